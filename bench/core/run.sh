#!/usr/bin/env bash
# Process-core benchmarks: each C program (built by CMake as
# <build>/bench/bench-core-<name>) and then the same program in Erlang
# (compiled here with erlc into a temporary folder), both on every core.
# Prints BENCH lines; exits non-zero when a program fails or computes a wrong
# answer. Each figure is the best of BENCH_REPEATS runs (default 3).
# LUN_BENCH_DIVISOR=N divides every size by N (quick checks);
# LUN_BENCH_SIDES="c erlang" (the default) chooses which sides run. When
# only Erlang is asked for and erl is missing, the exit status is 77 (CTest's
# "skipped").
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
build=${1:?usage: bench/core/run.sh BUILD_DIR}
divisor=${LUN_BENCH_DIVISOR:-1}
export LUN_BENCH_DIVISOR=$divisor
export ERL_CRASH_DUMP_SECONDS=0 # a failing Erlang run leaves no erl_crash.dump
limit=${LUN_BENCH_TIMEOUT:-60}
repeats=${BENCH_REPEATS:-3}
sides=" ${LUN_BENCH_SIDES:-c erlang} "

benchmarks=(spawn_exit idle_memory pingpong ring skynet fanin selective_receive)
failures=0

if [ "$divisor" != 1 ]; then
    echo "note: sizes divided by $divisor; these figures are not comparable" >&2
fi

erlang_dir=""
if [[ $sides != *" erlang "* ]]; then
    :
elif command -v erlc >/dev/null && command -v erl >/dev/null; then
    erlang_dir=$(mktemp -d)
    trap 'rm -rf "$erlang_dir"' EXIT
    if ! erlc -o "$erlang_dir" "$here"/erlang/*.erl; then
        echo "error: erlc failed on bench/core/erlang" >&2
        failures=$((failures + 1))
        erlang_dir=""
    fi
else
    echo "note: erl/erlc not installed (Debian package erlang-base): no Erlang reference" >&2
    [[ $sides == " erlang " ]] && exit 77
fi

# run WHAT COMMAND...: runs the command `repeats` times and prints, for each
# BENCH name, the best line (highest rate, lowest time or size); any failed run
# counts as a failure of the benchmark.
run() {
    local what=$1
    shift
    local lines="" output attempt
    for ((attempt = 0; attempt < repeats; attempt++)); do
        if ! output=$(timeout "$limit" "$@"); then
            echo "error: $what failed or exceeded ${limit}s" >&2
            failures=$((failures + 1))
            return
        fi
        lines+="$output"$'\n'
    done
    awk '$1 == "BENCH" && NF == 4 {
        name = $2
        if (!(name in best)) { order[++names] = name; best[name] = $3; line[name] = $0; next }
        better = ($4 ~ /per_s$/) ? ($3 + 0 > best[name] + 0) : ($3 + 0 < best[name] + 0)
        if (better) { best[name] = $3; line[name] = $0 }
    }
    END { for (i = 1; i <= names; i++) print line[order[i]] }' <<<"$lines"
}

for name in "${benchmarks[@]}"; do
    program="$build/bench/bench-core-${name//_/-}"
    if [[ $sides != *" c "* ]]; then
        :
    elif [ -x "$program" ]; then
        run "bench-core-${name//_/-}" "$program" "$divisor"
    else
        echo "error: $program not built" >&2
        failures=$((failures + 1))
    fi
    if [ -n "$erlang_dir" ]; then
        run "erlang $name" erl +P 4000000 -noshell -pa "$erlang_dir" \
            -eval "$name:main(), halt()."
    fi
done

exit $((failures > 0))
