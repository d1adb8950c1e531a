#!/usr/bin/env bash
# Differential check of the engine against Node.js (V8) on fuzz_body inputs:
# fuzz_exec runs each input's module on our engine, differential.mjs on V8,
# and every input whose result, trap or final memory differs is printed.
#
# Usage: tests/fuzz/differential.sh BUILD_DIR INPUT_DIR...
#   e.g. tests/fuzz/differential.sh build tests/fuzz/body_seeds build-fuzz/corpus/fuzz_body
# BUILD_DIR is a normal (non-LUN_FUZZ) build, which has tests/fuzz/fuzz_exec.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:?usage: differential.sh BUILD_DIR INPUT_DIR...}
shift
exec_tool=$build/tests/fuzz/fuzz_exec
if [ ! -x "$exec_tool" ]; then
    echo "differential: $exec_tool not built" >&2
    exit 2
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
find "$@" -maxdepth 1 -type f -print0 | xargs -0 -r "$exec_tool" "$work" >"$work/ours.txt"
echo "ours: $(awk '{ count[$2]++ } END { for (o in count) printf "%s %d  ", o, count[o] }' \
    "$work/ours.txt")"
timeout 600 node "$here/differential.mjs" "$work" <"$work/ours.txt"
