#!/usr/bin/env bash
# Wasm-process benchmarks: each C guest (built by CMake as
# <build>/bench/wproc/<name>.wasm) run with `<build>/lunatic run`, then the
# same benchmark in Erlang (bench/core/erlang, compiled here with erlc into
# a temporary folder, run with `erl +P 4000000 -noshell`), both on every
# core. Prints
#   BENCH wproc.<metric> <value> <unit>
#   BENCH erlang.wproc.<metric> <value> <unit>
# (bench/run.sh's summary puts erlang.wproc.x beside wproc.x, apart from
# bench/core's rows). Exits non-zero when a
# program fails, computes a wrong answer or falls short of the count.
#
# Environment:
#   LUN_BENCH_DIVISOR=N    divides every size by N (quick checks)
#   BENCH_REPEATS=N        best of N runs per figure (default 3, both sides)
#   LUN_BENCH_TIMEOUT=S    kills a run after S seconds (default 150)
#   LUN_BENCH_SIDES="lunatic erlang"  which sides run (default both); only
#                          erlang asked for and erl missing: exit status 77
#   LUN_WPROC_MAX_RSS_MIB  resident memory at which the idle-memory guest
#                          stops spawning (default 16384, at most the
#                          machine's available memory less 3 GiB)
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
build=${1:?usage: bench/wproc/run.sh BUILD_DIR}
build=$(cd "$build" && pwd) || exit 2
divisor=${LUN_BENCH_DIVISOR:-1}
export LUN_BENCH_DIVISOR=$divisor
export ERL_CRASH_DUMP_SECONDS=0 # a failing Erlang run leaves no erl_crash.dump
limit=${LUN_BENCH_TIMEOUT:-150}
lunatic_repeats=${BENCH_REPEATS:-3}
erlang_repeats=${BENCH_REPEATS:-3}
sides=" ${LUN_BENCH_SIDES:-lunatic erlang} "
lunatic=$build/lunatic
guests=$build/bench/wproc
failures=0

if [ "$divisor" != 1 ]; then
    echo "note: sizes divided by $divisor; these figures are not comparable" >&2
fi

# The idle-memory guest's cap: enough for the 16 KiB-per-process target at
# 1,000,000 processes, never more than the machine can spare.
max_rss_mib=${LUN_WPROC_MAX_RSS_MIB:-16384}
available_mib=$(awk '/^MemAvailable:/ { print int($2 / 1024) }' /proc/meminfo)
if [ -n "$available_mib" ] && [ $((available_mib - 3072)) -lt "$max_rss_mib" ]; then
    max_rss_mib=$((available_mib - 3072))
    echo "note: idle-memory cap lowered to ${max_rss_mib} MiB (memory available)" >&2
fi

lunatic_ok=false
if [[ $sides == *" lunatic "* ]]; then
    if [ ! -x "$lunatic" ]; then
        echo "error: $lunatic not built" >&2
        failures=$((failures + 1))
    elif [ ! -f "$guests/spawn_exit.wasm" ]; then
        echo "bench/wproc: lunatic side skipped: $guests not built (it needs the guest SDK:" \
            "clang with wasm32-wasi)"
    else
        lunatic_ok=true
    fi
fi

erlang_dir=""
if [[ $sides != *" erlang "* ]]; then
    :
elif command -v erlc >/dev/null && command -v erl >/dev/null; then
    erlang_dir=$(mktemp -d)
    trap 'rm -rf "$erlang_dir"' EXIT
    if ! erlc -o "$erlang_dir" "$here"/../core/erlang/*.erl; then
        echo "error: erlc failed on bench/core/erlang" >&2
        failures=$((failures + 1))
        erlang_dir=""
    fi
else
    echo "note: erl/erlc not installed (Debian package erlang-base): no Erlang reference" >&2
    [[ $sides == " erlang " ]] && exit 77
fi

# best LINES: for each BENCH name, the best line (highest rate or count,
# lowest time or size).
best() {
    awk '$1 == "BENCH" && NF == 4 {
        name = $2
        if (!(name in best)) { order[++names] = name; best[name] = $3; line[name] = $0; next }
        higher = ($4 ~ /per_s$/ || $4 == "count")
        better = higher ? ($3 + 0 > best[name] + 0) : ($3 + 0 < best[name] + 0)
        if (better) { best[name] = $3; line[name] = $0 }
    }
    END { for (i = 1; i <= names; i++) print line[order[i]] }' <<<"$1"
}

# run WHAT REPEATS COMMAND...: runs the command REPEATS times; BEST_LINES
# gets the best line of each BENCH name, LAST_OUTPUT the last run's output.
# A failed run counts as a failure and ends the repeats (its BENCH lines, if
# any, are kept: a count that fell short). No subshell, so that `failures`
# counts.
run() {
    local what=$1 repeats=$2
    shift 2
    local lines="" attempt
    LAST_OUTPUT=""
    for ((attempt = 0; attempt < repeats; attempt++)); do
        if ! LAST_OUTPUT=$(timeout "$limit" "$@"); then
            echo "error: $what failed or exceeded ${limit}s" >&2
            failures=$((failures + 1))
            lines+="$LAST_OUTPUT"$'\n'
            break
        fi
        lines+="$LAST_OUTPUT"$'\n'
    done
    BEST_LINES=$(best "$lines")
}

# The idle-memory guest: when the runtime died before reporting, the last
# "# alive N" progress line is the largest count reached.
run_idle_memory() {
    run "idle_memory.wasm" "$lunatic_repeats" \
        "$lunatic" run --dir /proc/self "$guests/idle_memory.wasm" "$divisor" "$max_rss_mib"
    [ -n "$BEST_LINES" ] && echo "$BEST_LINES"
    if ! grep -q 'concurrent_max' <<<"$BEST_LINES"; then
        local reached
        reached=$(awk '$1 == "#" && $2 == "alive" { n = $3 } END { print n + 0 }' <<<"$LAST_OUTPUT")
        echo "BENCH wproc.concurrent_max $reached count"
    fi
}

# The Erlang twins print erlang.<metric>; renamed erlang.wproc.<metric>.
run_erlang() {
    local name=$1
    run "erlang $name" "$erlang_repeats" erl +P 4000000 -noshell -pa "$erlang_dir" \
        -eval "$name:main(), halt()."
    [ -n "$BEST_LINES" ] && sed 's/^BENCH erlang\./BENCH erlang.wproc./' <<<"$BEST_LINES"
    # BEAM's idle_memory succeeds only with every process alive.
    if [ "$name" = idle_memory ] && grep -q idle_bytes_per_process <<<"$BEST_LINES"; then
        local count=$((1000000 / divisor))
        echo "BENCH erlang.wproc.concurrent_max $((count > 0 ? count : 1)) count"
    fi
}

for name in spawn_exit idle_memory pingpong skynet; do
    if $lunatic_ok; then
        if [ "$name" = idle_memory ]; then
            run_idle_memory
        else
            run "$name.wasm" "$lunatic_repeats" "$lunatic" run "$guests/$name.wasm" "$divisor"
            [ -n "$BEST_LINES" ] && echo "$BEST_LINES"
        fi
    fi
    [ -n "$erlang_dir" ] && run_erlang "$name"
done

exit $((failures > 0))
