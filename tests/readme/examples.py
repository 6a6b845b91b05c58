#!/usr/bin/env python3
"""Runs the README's API examples as written and checks what they print (tests/readme/examples.sh).

    examples.py README BASE_URL WORKDIR

Every ```sh block of the "## API overview" section, in order, in one bash process started in
WORKDIR (which holds target/orderly/dev-secrets.env). A command is a line starting with `$ `
plus its `\\` continuation lines; the lines after it, up to the next command, are its output
as the README shows it. `127.0.0.1:3000` becomes BASE_URL's address. Checked:
  - a command must exit 0;
  - `HTTP/1.1 NNN …` shown: the response's status is NNN;
  - `name: value` header lines shown under a status line: the header is there, and for the
    stable headers (STABLE) with that value (values with `…` are not compared);
  - a single output line without `…` that is not JSON (e.g. `200`, `true`): printed exactly.
"""
import os
import re
import subprocess
import sys
import urllib.parse

STABLE = {"allow", "content-type", "cache-control", "idempotent-replayed"}


def blocks(readme):
    text = open(readme).read()
    start = text.index("\n## API overview")
    end = text.find("\n## ", start + 1)
    section = text[start:end if end > 0 else len(text)]
    return re.findall(r"```sh\n(.*?)```", section, re.S)


def parse(block):
    """[(command, [output lines])]"""
    out, lines, i = [], block.splitlines(), 0
    while i < len(lines):
        line = lines[i]
        if not line.startswith("$ "):
            i += 1
            continue
        command = [line[2:]]
        while command[-1].endswith("\\") and i + 1 < len(lines):
            i += 1
            command.append(lines[i])
        i += 1
        shown = []
        while i < len(lines) and not lines[i].startswith("$ "):
            shown.append(lines[i])
            i += 1
        out.append(("\n".join(command), shown))
    return out


def check(n, command, shown, printed):
    problems = []
    shown = [s for s in shown if s.strip() and s.strip() != "..."]
    if not shown:
        return problems
    first = shown[0]
    if first.startswith("HTTP/1.1 "):
        want = first.split()[1]
        statuses = re.findall(r"^HTTP/1\.1 (\d{3})", printed, re.M)
        if not statuses or statuses[-1] != want:
            problems.append(f"status {statuses[-1] if statuses else 'none'}, the README shows {want}")
        headers = {}
        for line in printed.replace("\r", "").split("\n\n")[0].splitlines()[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        for line in shown[1:]:
            m = re.match(r"^([A-Za-z0-9-]+): (.*)$", line)
            if not m:
                break
            name, value = m.group(1).lower(), m.group(2)
            if name not in headers:
                problems.append(f"no {name} header")
            elif name in STABLE and "…" not in value and headers[name] != value:
                problems.append(f"{name}: {headers[name]!r}, the README shows {value!r}")
    elif len(shown) == 1 and "…" not in first and not first.lstrip().startswith(("{", "[")):
        if printed.strip() != first.strip():
            problems.append(f"printed {printed.strip()[:200]!r}, the README shows {first!r}")
    return problems


def main():
    readme, base, workdir = sys.argv[1:4]
    address = urllib.parse.urlparse(base).netloc
    examples = [e for b in blocks(readme) for e in parse(b)]
    script = ["set -u"]
    for n, (command, _) in enumerate(examples):
        command = command.replace("127.0.0.1:3000", address)
        script.append(f"{{\n{command}\n}} >out.{n} 2>err.{n} || {{ echo $? >failed.{n}; exit 1; }}")
    subprocess.run(["bash", "-c", "\n".join(script)], cwd=workdir)
    failures = 0
    for n, (command, shown) in enumerate(examples):
        out = os.path.join(workdir, f"out.{n}")
        if not os.path.exists(out):
            break
        printed = open(out).read()
        problems = []
        if os.path.exists(os.path.join(workdir, f"failed.{n}")):
            problems.append(f"exit status {open(os.path.join(workdir, f'failed.{n}')).read().strip()}: "
                            f"{open(os.path.join(workdir, f'err.{n}')).read()[:300]}")
        problems += check(n, command, shown, printed)
        head = command.splitlines()[0][:110]
        if problems:
            failures += 1
            print(f"FAIL {head}\n     " + "\n     ".join(problems) + f"\n     printed: {printed[:400]!r}")
        else:
            print(f"ok   {head}")
    ran = sum(1 for n in range(len(examples)) if os.path.exists(os.path.join(workdir, f"out.{n}")))
    print(f"README examples: {ran} of {len(examples)} commands ran, {failures} failed")
    if failures or ran != len(examples):
        sys.exit(1)


if __name__ == "__main__":
    main()
