#!/usr/bin/env bash
# The repository stands on its own: no file in it may send a reader, a build or a test to the
# material folder that sits beside a checkout in the development workplace. Everything the
# build, the tests and the demo use is inside the repository, with its licence.
# Usage: standalone_test.sh SOURCE_DIR
set -euo pipefail
src="${1:?usage: standalone_test.sh SOURCE_DIR}"
cd "$src"

# The pattern is written so that this file does not match itself.
pattern='[.][.]/shared'
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  files=$(git ls-files --cached --others --exclude-standard)
else
  files=$(find . -path ./build -prune -o -path ./.git -prune -o -type f -print)
fi

hits=$(printf '%s\n' "$files" | grep -v '^$' | while IFS= read -r f; do
  [ -f "$f" ] || continue
  grep -IHn -e "$pattern" -- "$f" || true
done)
if [ -n "$hits" ]; then
  echo "files that refer to the material folder beside the checkout:" >&2
  printf '%s\n' "$hits" >&2
  exit 1
fi

# What the tests read must be here, each with its licence.
for d in tests/vectors/wycheproof tests/data/stix tests/data/stix2-json-schemas; do
  [ -f "$d/LICENSE" ] || { echo "$d has no LICENSE" >&2; exit 1; }
done
[ -f docs/DESIGN.md ] || { echo "docs/DESIGN.md is missing" >&2; exit 1; }
echo "standalone: no reference outside the repository; vectors, samples and schemas carry their licences"
