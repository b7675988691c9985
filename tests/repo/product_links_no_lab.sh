#!/usr/bin/env bash
# The production binary carries no lab: `cellgate` runs on a party's classified gateway, so it
# must not link Google Benchmark, the process launcher (bench/lab/deploy), the synthetic
# traffic (bench/lab/synth, bench/lab/traffic) or the demo and bench (bench/lab). Those live
# in `cellgate-lab`. Checked three ways: the dynamic libraries it loads (ldd), its link line
# (when the build uses Ninja) and the symbols it holds (nm -C).
# Usage: product_links_no_lab.sh CELLGATE_BINARY [BUILD_DIR MAKE_PROGRAM]
set -euo pipefail
bin="${1:?usage: product_links_no_lab.sh CELLGATE_BINARY [BUILD_DIR MAKE_PROGRAM]}"
build="${2:-}"
make_program="${3:-}"
[ -x "$bin" ] || { echo "$bin: not an executable" >&2; exit 1; }
failed=0

libs=$(ldd "$bin")
if printf '%s\n' "$libs" | grep -i 'benchmark'; then
  echo "FAIL: $bin loads Google Benchmark (ldd, above)" >&2
  failed=1
fi

lab_libs='libbenchmark|benchmark::|libcg_(lab|deploy|traffic|synth)[.]a'
if [ -n "$build" ] && [ -n "$make_program" ] && [ -f "$build/build.ninja" ]; then
  target=$(realpath --relative-to="$build" "$bin")
  link=$("$make_program" -C "$build" -t commands "$target" | tail -1)
  if [ -z "$link" ]; then
    echo "FAIL: no link line for $target" >&2
    failed=1
  elif printf '%s\n' "$link" | tr ' ' '\n' | grep -E "$lab_libs"; then
    echo "FAIL: the link line of $target names the lab's libraries (above)" >&2
    failed=1
  fi
fi

lab_symbols=' (cg::(lab|deploy|traffic|synth)::|benchmark::)'
hits=$(nm -C "$bin" | grep -E "$lab_symbols" | head -20 || true)
if [ -n "$hits" ]; then
  printf '%s\n' "$hits"
  echo "FAIL: $bin holds lab or Google Benchmark symbols (nm -C, above)" >&2
  failed=1
fi

[ "$failed" -eq 0 ] || exit 1
echo "product: $bin links no Google Benchmark, no deploy, traffic, synth, demo or bench code"
