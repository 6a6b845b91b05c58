#!/usr/bin/env bash
# The README's API examples, run as written against `cargo xtask up` on a fresh database of
# their own (orderly_readme): tests/readme/examples.py says what is checked.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
# shellcheck source=tests/support/service.sh
. tests/support/service.sh
work=$(mktemp -d)
cleanup() {
  set +e
  service_stop
  rm -rf "$work"
}
trap cleanup EXIT

service_start orderly_readme "$(free_port)" "$work/service.log"
# The examples read the seeded secrets where `cargo xtask up` keeps them.
mkdir -p "$work/run/target/orderly"
ln -s "$root/target/orderly/dev-secrets.env" "$work/run/target/orderly/dev-secrets.env"
python3 tests/readme/examples.py README.md "$SERVICE_BASE" "$work/run"
