#!/usr/bin/env bash
# Supply-chain checks: cargo-deny (advisories, licenses, bans, sources; deny.toml) and
# cargo-audit (RustSec). Run by .ci/run and the GitHub workflows.
#
# Tools: pinned versions, installed with `cargo install --locked` only when missing. Their
# own release profiles ask for fat LTO and one codegen unit; that setting only makes the
# tool a little faster and costs minutes of CI, so it is overridden for the install.
#
# The advisory database is a git repository on GitHub. Where it cannot be fetched, a copy
# already on the machine is used (its age is printed); with none, the advisory checks do
# not run and this script says so loudly (ORDERLY_REQUIRE_ADVISORIES=1 makes that an error,
# as in the GitHub workflows). Licenses, bans and sources never need the network.
set -euo pipefail
cd "$(dirname "$0")/.."

DENY_VERSION=0.20.2
AUDIT_VERSION=0.22.2

install_tool() { # crate version subcommand
  local crate=$1 version=$2 sub=$3
  if cargo "$sub" --version 2>/dev/null | grep -qF " $version"; then
    return
  fi
  local start
  start=$(date +%s)
  CARGO_PROFILE_RELEASE_LTO=off CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
    cargo install --locked --quiet "$crate@$version" --target-dir target/tools
  echo "installed $crate $version in $(($(date +%s) - start)) s"
}
install_tool cargo-deny "$DENY_VERSION" deny
install_tool cargo-audit "$AUDIT_VERSION" audit
cargo deny --version
cargo audit --version

advisories_missing() {
  echo "ADVISORIES NOT CHECKED: $1"
  if [ "${ORDERLY_REQUIRE_ADVISORIES:-0}" = 1 ]; then exit 1; fi
}

echo "-- cargo deny: licenses, bans, sources"
cargo deny --log-level error check licenses bans sources  # duplicate versions are warnings (deny.toml): not printed

# Can the advisory database be fetched from here?
if timeout 30 git ls-remote --quiet https://github.com/rustsec/advisory-db HEAD >/dev/null 2>&1; then
  online=1
else
  online=0
  echo "(the RustSec advisory database cannot be fetched from this machine: checking against the copies on it)"
fi

echo "-- cargo deny: advisories"
deny_dbs="${CARGO_HOME:-$HOME/.cargo}/advisory-dbs"
if [ "$online" = 1 ]; then
  cargo deny --log-level warn check advisories
elif compgen -G "$deny_dbs/advisory-db-*/.git" >/dev/null; then
  for db in "$deny_dbs"/advisory-db-*/; do
    echo "advisory database of $(git -C "$db" log -1 --format=%cs)"
  done
  cargo deny --offline --log-level warn check advisories
else
  advisories_missing "cargo-deny has no advisory database (none fetched, none in $deny_dbs)"
fi

echo "-- cargo audit"
audit_db="${CARGO_HOME:-$HOME/.cargo}/advisory-db"
if [ "$online" = 1 ]; then
  cargo audit --deny warnings
elif [ -d "$audit_db/.git" ]; then
  echo "advisory database of $(git -C "$audit_db" log -1 --format=%cs)"
  cargo audit --no-fetch --deny warnings
else
  advisories_missing "cargo-audit has no advisory database (none fetched, none at $audit_db)"
fi
