#!/bin/sh
# Rewrites known-failures.tsv from a full conformance run: every script of
# the manifest that fails commands today, with its count of failed commands.
#
# usage: update-known-failures.sh BUILD_DIR [MANIFEST]
#   (MANIFEST defaults to ../shared/wasm-spec/MANIFEST.tsv beside the clone)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=$1
manifest=${2:-$here/../../../shared/wasm-spec/MANIFEST.tsv}
list=$here/known-failures.tsv
output=$(mktemp)
trap 'rm -f "$output" "$output.new"' EXIT
"$build/spectest" --manifest "$manifest" >"$output" || true
tail -n 1 "$output"
grep -q ' passed, .* failed$' "$output" || { echo "no result line; list unchanged" >&2; exit 1; }
sed -n '/^# Regenerate/q;p' "$list" >"$output.new"
grep '^# Regenerate' "$list" >>"$output.new"
awk '$1 != "total:" && $2 ~ /^[0-9]+$/ && $3 == "passed," && $5 == "failed," && $4 > 0 {
         sub(/:$/, "", $1); printf "%s\t%s\n", $1, $4 }' "$output" >>"$output.new"
mv "$output.new" "$list"
echo "wrote $list"
