#!/usr/bin/env bash
# Fuzzes the Wasm engine with libFuzzer, as CI does: configures a separate
# clang build (build-fuzz, -DLUN_FUZZ=ON), builds tests/fuzz's targets and
# their seeds, and runs each target for a bounded time. Prints executions and
# crashes per target; exits non-zero when a target found a crash (or a leak,
# a timeout, an out-of-memory), whose input is saved under
# build-fuzz/crashes/<target>-<kind>-<hash>.
#
# Environment: FUZZ_SECONDS (default 60) per target, FUZZ_BUILD (default
# build-fuzz), FUZZ_TARGETS (default "fuzz_decode fuzz_run fuzz_body"), FUZZ_JOBS for
# the build (default: nproc), FUZZ_SOURCE the source folder (default: this
# repository), FUZZ_CMAKE_ARGS more configure options. Replay one input: build-fuzz/tests/fuzz/fuzz_run path/to/input
set -uo pipefail
cd "$(dirname "$0")/.."

seconds=${FUZZ_SECONDS:-60}
build=${FUZZ_BUILD:-build-fuzz}
source=${FUZZ_SOURCE:-.}
targets=${FUZZ_TARGETS:-fuzz_decode fuzz_run fuzz_body}
jobs=${FUZZ_JOBS:-$(nproc)}
clang=${FUZZ_CC:-$(command -v clang || true)}
if [ -z "$clang" ]; then
    echo "fuzz: clang not found (libFuzzer needs it)" >&2
    exit 2
fi

echo "== fuzz: configure and build $build with $clang"
mkdir -p "$build"
# shellcheck disable=SC2086
if ! CC=$clang cmake -S "$source" -B "$build" -DCMAKE_C_COMPILER="$clang" -DLUN_FUZZ=ON \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo ${FUZZ_CMAKE_ARGS:-} >"$build/configure.log" 2>&1; then
    cat "$build/configure.log" >&2
    echo "fuzz: configuring $build failed" >&2
    exit 2
fi
grep -E 'tests/fuzz|fuzz seeds' "$build/configure.log"
# shellcheck disable=SC2086
if ! cmake --build "$build" -j "$jobs" --target $targets fuzz_seeds; then
    echo "fuzz: building the fuzz targets failed" >&2
    exit 2
fi

fuzz_dir=$build/tests/fuzz
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
mkdir -p "$build/crashes"
status=0
for target in $targets; do
    # The working corpus keeps what earlier runs found; the seeds are read
    # from their own folders (libFuzzer writes new inputs into the first).
    corpus=$build/corpus/$target
    mkdir -p "$corpus"
    seed_dirs=()
    if [ "$target" = fuzz_body ]; then
        candidates=("$source/tests/fuzz/body_seeds")
    else
        candidates=("$source/tests/fuzz/regressions" "$fuzz_dir/seeds/own" "$fuzz_dir/seeds/spec")
    fi
    for seeds in "${candidates[@]}"; do
        [ -d "$seeds" ] && seed_dirs+=("$seeds")
    done
    log=$build/$target.log
    echo "== fuzz: $target for ${seconds}s (log: $log)"
    "$fuzz_dir/$target" "$corpus" "${seed_dirs[@]}" \
        -max_total_time="$seconds" -timeout=25 -rss_limit_mb=2048 -max_len=65536 \
        -print_final_stats=1 -artifact_prefix="$build/crashes/$target-" \
        -dict="$source/tests/fuzz/wasm.dict" \
        >"$log" 2>&1 </dev/null
    code=$?
    executions=$(awk '/stat::number_of_executed_units/ { print $2 }' "$log" | tail -n 1)
    if [ -z "$executions" ]; then
        executions=$(grep -oE '^#[0-9]+' "$log" | tail -n 1 | tr -d '#')
    fi
    artifacts=$(grep -oE "Test unit written to [^ ]+" "$log" | awk '{ print $5 }')
    crashes=$(printf '%s' "$artifacts" | grep -c . || true)
    if [ $code -ne 0 ] && [ "$crashes" -eq 0 ]; then
        crashes=1 # libFuzzer died without saving the input (see the log)
    fi
    echo "$target: ${executions:-0} executions, $crashes crashes," \
        "$(find "$corpus" -type f | wc -l) new corpus inputs"
    if [ "$crashes" -ne 0 ]; then
        status=1
        echo "$target: CRASH (libFuzzer exit $code); inputs:" >&2
        for artifact in $artifacts; do echo "  $artifact" >&2; done
        grep -E '^(==[0-9]+==ERROR|SUMMARY|.*runtime error)' "$log" | head -n 5 >&2
        grep -E '^    #[0-9]+ ' "$log" | head -n 8 >&2
    else
        echo "$target: no crash"
    fi
done
exit $status
