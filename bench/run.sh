#!/usr/bin/env bash
# Benchmark entry point (`make bench` runs `./bench/run.sh build` after the
# build). Runs every group's bench/<group>/run.sh with the build folder, so a
# group is added by adding its folder; each group prints lines
#   BENCH <name> <value> <unit>
# with its own figure first and the reference's after it (core.x, then
# erlang.x). At the end a table puts each figure beside its reference:
# names that differ only in their first dotted part are one row. The first
# prefix of a row that is not a known reference is ours.
# Builds nothing; LUN_BENCH_DIVISOR=N scales every size down (quick checks).
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
build=${1:-build}
if [ ! -d "$build" ]; then
    echo "bench: build folder '$build' not found; run 'make build' first" >&2
    exit 2
fi
build=$(cd "$build" && pwd)

# Prefixes that name a reference implementation, never ours.
reference_prefixes="erlang native node nginx"

results=$(mktemp)
trap 'rm -f "$results"' EXIT

failed=()
for group_script in "$here"/*/run.sh; do
    [ -f "$group_script" ] || continue
    group=$(basename "$(dirname "$group_script")")
    echo "== bench group $group"
    if ! bash "$group_script" "$build" | tee -a "$results"; then
        failed+=("$group")
    fi
done

echo
echo "== summary (ours beside the reference; 'x' = how many times better or worse)"
grep -E '^BENCH [^ ]+ [^ ]+ [^ ]+$' "$results" | awk -v references="$reference_prefixes" '
function better(unit) { return unit ~ /(per_s|count)$/ ? "higher" : "lower" }
function human(value) {
    if (value >= 1e9) return sprintf("%.2fG", value / 1e9)
    if (value >= 1e6) return sprintf("%.2fM", value / 1e6)
    if (value >= 1e4) return sprintf("%.1fk", value / 1e3)
    return sprintf("%.4g", value)
}
function cell(prefix, value, unit) { return prefix " " human(value) " " unit }
BEGIN { split(references, list, " "); for (i in list) is_reference[list[i]] = 1 }
{
    lines++; name[lines] = $2; value[lines] = $3 + 0; unit[lines] = $4
    dot = index($2, ".")
    prefix[lines] = dot ? substr($2, 1, dot - 1) : $2
    rest[lines] = dot ? substr($2, dot + 1) : $2
}
# Rows are our figures, in order. A reference (erlang.x, node.x, nginx.x)
# joins the row whose whole name is x (erlang.http.rps_c1000 beside
# http.rps_c1000), else the first row whose name after its prefix is x
# (erlang.skynet_ms beside core.skynet_ms), else a row of its own.
END {
    for (i = 1; i <= lines; i++) {
        if (prefix[i] in is_reference) continue
        row[++rows] = i
        if (!(name[i] in row_by_name)) row_by_name[name[i]] = rows
        if (!(rest[i] in row_by_rest)) row_by_rest[rest[i]] = rows
    }
    for (i = 1; i <= lines; i++) {
        if (!(prefix[i] in is_reference)) continue
        if (rest[i] in row_by_name) target = row_by_name[rest[i]]
        else if (rest[i] in row_by_rest) target = row_by_rest[rest[i]]
        else { row[++rows] = 0; orphan[rows] = i; target = rows }
        references_of[target, ++reference_count[target]] = i
    }
    format = "%-34s %-24s %-24s %s\n"
    printf format, "metric", "ours", "reference", "comparison"
    for (r = 1; r <= rows; r++) {
        i = row[r]
        if (i == 0) {
            j = orphan[r]
            printf format, rest[j], "-", cell(prefix[j], value[j], unit[j]), "-"
            continue
        }
        ours_text = cell(prefix[i], value[i], unit[i])
        if (reference_count[r] == 0) { printf format, rest[i], ours_text, "-", "-"; continue }
        for (k = 1; k <= reference_count[r]; k++) {
            j = references_of[r, k]
            comparison = "-"
            if (value[i] > 0 && value[j] > 0) {
                ratio = better(unit[i]) == "higher" ? value[i] / value[j] : value[j] / value[i]
                comparison = ratio >= 1 ? sprintf("%.2fx better", ratio) \
                                        : sprintf("%.2fx WORSE", 1 / ratio)
            }
            printf format, (k == 1 ? rest[i] : ""), (k == 1 ? ours_text : ""), \
                   cell(prefix[j], value[j], unit[j]), comparison
        }
    }
}'

if [ ${#failed[@]} -ne 0 ]; then
    echo "bench: failed groups: ${failed[*]}" >&2
    exit 1
fi
