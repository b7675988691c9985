#!/usr/bin/env python3
"""The operator's guide runs as written.

Extracts every ```sh block of docs/OPERATIONS.md, in order, and runs them as one bash script
in an empty temporary folder holding a copy of docs/examples/ as examples/, with the built
`cellgate` and `cellgate-lab` (the lab's demo) first on PATH. A command followed by `# exit N`
must exit with N; every other command must succeed (the script runs under `set -euo pipefail`).
A block preceded by a line `<!-- guide-test: skip (reason) -->` is not run; the test prints
which and why.

It also checks that the files the guide shows are the ones it ships: each ```toml block
introduced by a line naming `examples/NAME` equals docs/examples/NAME, and the README's sample
item (its ```json block) equals docs/examples/items/notice.json, which the guide sends to a
gateway and which must be accepted there.

Usage: guide_test.py SOURCE_DIR CELLGATE_BINARY
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

EXIT_RE = re.compile(r"^(?P<cmd>.*\S)\s+#\s*exit\s+(?P<code>\d+)\b[^#]*$")
SKIP_RE = re.compile(r"<!--\s*guide-test:\s*skip\s*\((?P<why>[^)]*)\)\s*-->")
EXAMPLE_RE = re.compile(r"`examples/(?P<name>[A-Za-z0-9_.\-/]+)`")
RUN_SECONDS_MAX = 900


def blocks(markdown):
    """Yields (info, first line number, body, preceding text line) for each fenced block."""
    lines = markdown.split("\n")
    i = 0
    last_text = ""
    while i < len(lines):
        m = re.match(r"^\s*```(\S*)\s*$", lines[i])
        if not m:
            if lines[i].strip():
                last_text = lines[i]
            i += 1
            continue
        info, start = m.group(1), i + 1
        indent = len(lines[i]) - len(lines[i].lstrip())
        body = []
        i += 1
        while i < len(lines) and not re.match(r"^\s*```\s*$", lines[i]):
            body.append(lines[i][indent:] if lines[i][:indent].strip() == "" else lines[i])
            i += 1
        if i >= len(lines):
            raise SystemExit(f"unterminated code block at line {start}")
        yield info, start, body, last_text
        last_text = ""
        i += 1


def logical_lines(body):
    """Joins backslash continuations so that a `# exit N` applies to the whole command."""
    out, cur = [], ""
    for line in body:
        if line.rstrip().endswith("\\"):
            cur += line.rstrip()[:-1] + " "
            continue
        out.append(cur + line)
        cur = ""
    if cur:
        out.append(cur)
    return out


def script_of(markdown):
    parts, skipped, ran = [], [], 0
    for info, start, body, before in blocks(markdown):
        if info != "sh":
            continue
        skip = SKIP_RE.search(before)
        if skip:
            skipped.append((start, skip.group("why")))
            continue
        ran += 1
        parts.append(f"echo '== OPERATIONS.md line {start}' >&2")
        for line in logical_lines(body):
            stripped = line.strip()
            if not stripped or stripped.startswith("#"):
                continue
            m = EXIT_RE.match(line)
            if m:
                parts.append(f"expect_exit {m.group('code')} {start} {m.group('cmd').strip()}")
            else:
                parts.append(line)
    return "\n".join(parts), ran, skipped


PRELUDE = r"""set -euo pipefail
trap 'jobs -p | xargs -r kill 2>/dev/null; wait 2>/dev/null || true' EXIT
expect_exit() {
  local want=$1 where=$2; shift 2
  set +e; "$@"; local got=$?; set -e
  if [ "$got" -ne "$want" ]; then
    echo "guide line $where: '$*' exited $got, the guide says $want" >&2
    exit 1
  fi
}
set -x
"""


def check_examples(src, markdown, readme, failures):
    examples = os.path.join(src, "docs", "examples")
    shown = 0
    for info, start, body, before in blocks(markdown):
        if info != "toml":
            continue
        m = EXAMPLE_RE.search(before)
        if not m:
            failures.append(f"OPERATIONS.md line {start}: a toml block that names no examples/ file")
            continue
        path = os.path.join(examples, m.group("name"))
        shown += 1
        if not os.path.isfile(path):
            failures.append(f"OPERATIONS.md line {start}: examples/{m.group('name')} does not exist")
            continue
        with open(path) as f:
            if f.read().rstrip("\n") != "\n".join(body).rstrip("\n"):
                failures.append(f"OPERATIONS.md line {start}: differs from examples/{m.group('name')}")
    # Copies the guide ships beside their originals must not drift from them.
    for copy, original in (("il-policy.toml", "gateway/policy/examples/il-policy.toml"),
                           ("sy-policy.toml", "gateway/policy/examples/sy-policy.toml"),
                           ("stix/indicator-for-c2-ip-address.json",
                            "tests/data/stix/indicator-for-c2-ip-address.json")):
        with open(os.path.join(examples, copy), "rb") as a, \
                open(os.path.join(src, original), "rb") as b:
            if a.read() != b.read():
                failures.append(f"docs/examples/{copy} differs from {original}")
    samples = [b for info, _, b, _ in blocks(readme) if info == "json"]
    if len(samples) != 1:
        failures.append(f"README.md: expected one json sample item, found {len(samples)}")
    else:
        with open(os.path.join(examples, "items", "notice.json")) as f:
            if json.loads("\n".join(samples[0])) != json.load(f):
                failures.append("README.md's sample item differs from docs/examples/items/notice.json")
    return shown


def show_tails(work, lines_max=40):
    """After a failure, the end of every log and captured output the guide's commands left."""
    for root, _, files in os.walk(work):
        for name in sorted(files):
            if name.endswith((".log", ".out")):
                path = os.path.join(root, name)
                with open(path, errors="replace") as f:
                    tail = f.read().splitlines()[-lines_max:]
                print(f"--- {os.path.relpath(path, work)} (last {len(tail)} lines)", file=sys.stderr)
                print("\n".join(tail), file=sys.stderr)


def main():
    if len(sys.argv) != 4:
        raise SystemExit(__doc__ + "\nUsage: guide_test.py SOURCE_DIR CELLGATE CELLGATE_LAB")
    src, cellgate, lab = (os.path.abspath(a) for a in sys.argv[1:4])
    with open(os.path.join(src, "docs", "OPERATIONS.md")) as f:
        markdown = f.read()
    with open(os.path.join(src, "README.md")) as f:
        readme = f.read()

    failures = []
    shown = check_examples(src, markdown, readme, failures)
    script, ran, skipped = script_of(markdown)
    for line, why in skipped:
        print(f"guide: block at OPERATIONS.md line {line} not run: {why}")

    work = tempfile.mkdtemp(prefix="cellgate-guide-")
    ok = False
    try:
        shutil.copytree(os.path.join(src, "docs", "examples"), os.path.join(work, "examples"))
        env = dict(os.environ)
        env["PATH"] = os.pathsep.join(
            [os.path.dirname(cellgate), os.path.dirname(lab), env.get("PATH", "")])
        with open(os.path.join(work, "guide.sh"), "w") as f:
            f.write(PRELUDE + script + "\n")
        try:
            run = subprocess.run(["bash", "guide.sh"], cwd=work, env=env,
                                 stdin=subprocess.DEVNULL, timeout=RUN_SECONDS_MAX)
            if run.returncode != 0:
                failures.append(f"the guide's commands failed (exit {run.returncode}); see above")
        except subprocess.TimeoutExpired:
            failures.append(f"the guide's commands did not finish in {RUN_SECONDS_MAX} s")
        ok = not failures
    finally:
        if ok:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"guide: kept {work} for a look", file=sys.stderr)
            show_tails(work)

    for f in failures:
        print("FAILED: " + f, file=sys.stderr)
    print(f"guide: {ran} sh blocks run, {len(skipped)} skipped, {shown} shown files checked")
    print(f"{0 if failures else 1} passed, {1 if failures else 0} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
