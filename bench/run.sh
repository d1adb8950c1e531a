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
reference_prefixes="erlang native node"

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
    name = $2; value = $3 + 0; unit = $4
    dot = index(name, ".")
    prefix = dot ? substr(name, 1, dot - 1) : name
    metric = dot ? substr(name, dot + 1) : name
    if (!(metric in units)) { order[++rows] = metric; units[metric] = unit }
    if (!(prefix in is_reference) && !((metric, "ours") in values)) {
        values[metric, "ours"] = value
        prefixes[metric, "ours"] = prefix
    } else {
        count[metric]++
        values[metric, count[metric]] = value
        prefixes[metric, count[metric]] = prefix
    }
}
END {
    format = "%-32s %-22s %-22s %s\n"
    printf format, "metric", "ours", "reference", "comparison"
    for (row = 1; row <= rows; row++) {
        metric = order[row]; unit = units[metric]
        has_ours = (metric, "ours") in values
        ours = has_ours ? values[metric, "ours"] : 0
        ours_text = has_ours ? cell(prefixes[metric, "ours"], ours, unit) : "-"
        if (count[metric] == 0) { printf format, metric, ours_text, "-", "-"; continue }
        for (other = 1; other <= count[metric]; other++) {
            reference = values[metric, other]
            comparison = "-"
            if (ours > 0 && reference > 0) {
                ratio = better(unit) == "higher" ? ours / reference : reference / ours
                comparison = ratio >= 1 ? sprintf("%.2fx better", ratio) \
                                        : sprintf("%.2fx WORSE", 1 / ratio)
            }
            printf format, (other == 1 ? metric : ""), (other == 1 ? ours_text : ""), \
                   cell(prefixes[metric, other], reference, unit), comparison
        }
    }
}'

if [ ${#failed[@]} -ne 0 ]; then
    echo "bench: failed groups: ${failed[*]}" >&2
    exit 1
fi
