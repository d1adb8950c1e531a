#!/usr/bin/env bash
# Compute benchmark of the Wasm engine: times every kernel of kernels.txt
# natively (clang -O2), on our engine (wasm_bench) and on Node.js (V8), checks
# that all three agree on the checksum, and prints
#   BENCH wasm.<kernel>.ratio_native <engine time / native time> ratio
#   BENCH node.<kernel>.ratio_native <V8 time / native time> ratio
# and their geometric means, then the engine's instantiation time and memory
# per instance. Each time is the best of BENCH_REPEATS (default 3) calls on
# our engine, of at least 5 natively and on V8.
#
# Usage: bench/wasm/run.sh BUILD_DIR
# LUN_BENCH_DIVISOR=N divides every size by N (quick checks).
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
build=${1:-build}
dir=$build/bench/wasm
repeats=${BENCH_REPEATS:-3}
# The native and V8 runs are short: more of them make their best time less
# sensitive to other load on a shared machine.
reference_repeats=$((repeats < 5 ? 5 : repeats))
divisor=${LUN_BENCH_DIVISOR:-1}
instance_count=$((100000 / divisor))
instantiate_count=$((20000 / divisor))

if [ ! -x "$dir/wasm_bench" ]; then
    echo "bench/wasm: skipped: $dir/wasm_bench not built (it needs clang with the wasm32 target)"
    exit 0
fi
node=$(command -v node || true)
if [ -z "$node" ]; then
    echo "bench/wasm: node not found: the V8 column is skipped"
fi

failures=0
engine_ratios=()
node_ratios=()

# field NAME LINE: the number after NAME in a driver's output line.
field() {
    awk -v key="$1" '{ for (i = 1; i < NF; i++) if ($i == key) print $(i + 1) }' <<<"$2"
}

# scaled_n N GROWTH: N reduced for LUN_BENCH_DIVISOR.
scaled_n() {
    awk -v n="$1" -v growth="$2" -v d="$divisor" 'BEGIN {
        if (growth == "fib") m = n - int(log(d) / log(1.618) + 0.5)
        else m = int(n / d)
        print (m < 1 ? 1 : m)
    }'
}

# ratio A B: A / B with three decimals.
ratio() {
    awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", (b > 0 ? a / b : 0) }'
}

while read -r name bench_n _smoke_n growth; do
    case $name in '' | '#'*) continue ;; esac
    n=$(scaled_n "$bench_n" "$growth")
    native_out=$("$dir/native_$name" "$n" "$reference_repeats" </dev/null) || {
        echo "bench/wasm: $name: native run failed" >&2
        failures=$((failures + 1))
        continue
    }
    native_result=$(field result "$native_out")
    native_best=$(field best "$native_out")
    echo "# $name($n): checksum $native_result"
    # Our figure first, the references after it (see bench/run.sh's summary).
    seconds_lines=()
    ratio_lines=()

    engine_out=$("$dir/wasm_bench" run "$dir/$name.wasm" "$n" "$repeats" </dev/null)
    engine_status=$?
    engine_result=$(field result "$engine_out")
    if [ $engine_status -ne 0 ] || [ "$engine_result" != "$native_result" ]; then
        echo "bench/wasm: $name: engine FAILED (exit $engine_status, checksum" \
            "'$engine_result', native '$native_result')" >&2
        failures=$((failures + 1))
    else
        engine_best=$(field best "$engine_out")
        engine_ratio=$(ratio "$engine_best" "$native_best")
        engine_ratios+=("$engine_ratio")
        seconds_lines+=("BENCH wasm.$name.seconds $engine_best s")
        ratio_lines+=("BENCH wasm.$name.ratio_native $engine_ratio ratio")
    fi

    node_seconds_line=
    if [ -n "$node" ]; then
        node_out=$("$node" "$here/node_bench.mjs" "$dir/$name.wasm" "$n" "$reference_repeats" </dev/null)
        node_status=$?
        node_result=$(field result "$node_out")
        if [ $node_status -ne 0 ] || [ "$node_result" != "$native_result" ]; then
            echo "bench/wasm: $name: node FAILED (exit $node_status, checksum" \
                "'$node_result', native '$native_result')" >&2
            failures=$((failures + 1))
        else
            node_best=$(field best "$node_out")
            node_ratio=$(ratio "$node_best" "$native_best")
            node_ratios+=("$node_ratio")
            node_seconds_line="BENCH node.$name.seconds $node_best s"
            ratio_lines+=("BENCH node.$name.ratio_native $node_ratio ratio")
        fi
    fi
    seconds_lines+=("BENCH native.$name.seconds $native_best s")
    [ -n "$node_seconds_line" ] && seconds_lines+=("$node_seconds_line")
    printf '%s\n' "${seconds_lines[@]}" "${ratio_lines[@]}"
done <"$here/kernels.txt"

geomean() {
    printf '%s\n' "$@" | awk '$1 > 0 { sum += log($1); count++ }
        END { if (count) printf "%.3f", exp(sum / count) }'
}
if [ ${#engine_ratios[@]} -gt 0 ]; then
    echo "BENCH wasm.geomean_ratio_native $(geomean "${engine_ratios[@]}") ratio"
fi
if [ ${#node_ratios[@]} -gt 0 ]; then
    echo "BENCH node.geomean_ratio_native $(geomean "${node_ratios[@]}") ratio"
fi

if out=$("$dir/wasm_bench" instantiate "$instantiate_count"); then
    echo "BENCH wasm.instantiate_us $(field instantiate_us "$out") us"
else
    failures=$((failures + 1))
fi
# Untouched memory pages are not resident: instance_bytes is the engine's
# own cost per instance, instance_bytes_touched adds the first page that any
# real program writes.
for mode in instance_bytes instance_bytes_touched; do
    command=instances
    [ $mode = instance_bytes_touched ] && command=instances_touched
    if out=$("$dir/wasm_bench" $command "$instance_count"); then
        echo "BENCH wasm.$mode $(field $mode "$out") bytes"
    else
        failures=$((failures + 1))
    fi
done

if [ $failures -ne 0 ]; then
    echo "bench/wasm: $failures failure(s)" >&2
    exit 1
fi
