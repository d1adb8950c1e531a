#!/bin/sh
# Self-test of build/spectest against the real engine: counts and verbose
# reasons on selftest.wast (which fails some commands on purpose), the
# known-failures verdicts, manifests with SIMD scripts, the exit code 77 of a
# missing manifest, a script wast2json rejects, and the per-script timeout.
#
# usage: selftest.sh PATH/TO/spectest PATH/TO/tools/spectest/tests
set -u
if ! command -v wast2json >/dev/null 2>&1; then
    echo "selftest skipped: wast2json (wabt) not found"
    exit 77
fi
spectest=$1
tests=$2
work=$(mktemp -d "${TMPDIR:-/tmp}/spectest-selftest.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT
out=$work/out
# The runner's own temporary folders go here, to check that it removes them.
mkdir "$work/tmp" || exit 1
TMPDIR=$work/tmp
export TMPDIR

fail() {
    echo "selftest: $*"
    echo "---- output of the last run:"
    cat "$out"
    exit 1
}

run() {
    "$spectest" "$@" >"$out" 2>&1
    status=$?
}

expect_status() {
    [ "$status" -eq "$1" ] || fail "exit status $status, expected $1"
}

expect_line() {
    grep -qxF -- "$1" "$out" || fail "no line \"$1\""
}

wast=$tests/selftest.wast
counts="20 passed, 9 failed"

# Counts, the last line, and one verbose reason per deliberate failure.
run -v --fuel 1000000 "$wast"
expect_status 1
expect_line "$wast: $counts, 1 not applicable"
[ "$(tail -n 1 "$out")" = "$counts" ] || fail "last line is not \"$counts\""
for line in 26 30 32 35 54 57 58 63 64; do
    grep -q "^$wast:$line: [a-z_]* failed: " "$out" || fail "no failure reported at line $line"
done
reported=$(grep -c "^$wast:[0-9]*: [a-z_]* failed: " "$out")
[ "$reported" -eq 9 ] || fail "$reported failures reported, expected 9"
grep -q "^$wast:63: action failed: .*fuel" "$out" || fail "the endless loop is not reported as fuel exhaustion"
grep -qF "spectest.print_i32( 666:i32 )" "$out" || fail "print_i32 printed nothing in verbose mode"
grep -qF "spectest.print_f64_f64( 1.5:f64 -2:f64 )" "$out" || fail "print_f64_f64 not printed"

# Without -v: no failure details; the same counts in-process.
run --no-fork --fuel 1000000 "$wast"
expect_status 1
expect_line "$wast: $counts, 1 not applicable"
grep -q "failed: " "$out" && fail "failure details without -v"

# Known failures: equal is fine, fewer is an improvement, more a regression.
printf '# selftest\n\nselftest.wast\t9\n' >"$work/known.tsv"
run --fuel 1000000 --expect-failures "$work/known.tsv" "$wast"
expect_status 0
printf 'selftest.wast\t12\n' >"$work/known.tsv"
run --fuel 1000000 --expect-failures "$work/known.tsv" "$wast"
expect_status 0
grep -q "^improved: $wast: 9 failed, 12 listed" "$out" || fail "no improvement reported"
printf 'selftest.wast\t8\n' >"$work/known.tsv"
run --fuel 1000000 --expect-failures "$work/known.tsv" "$wast"
expect_status 1
grep -q "^regression: $wast: 9 failed, 8 allowed" "$out" || fail "no regression reported"
printf 'other.wast\t1\n' >"$work/known.tsv"
run --fuel 1000000 --expect-failures "$work/known.tsv" "$wast"
expect_status 1

# A manifest: paths relative to its folder, SIMD scripts not run.
mkdir -p "$work/suite/wast"
cp "$wast" "$work/suite/wast/selftest.wast"
printf 'path\tflags\tpassed/total\tnote\n' >"$work/suite/MANIFEST.tsv"
printf 'wast/selftest.wast\tnone\t30/30\tself\n' >>"$work/suite/MANIFEST.tsv"
printf 'wast/simd/simd_fake.wast\tnone\t5/5\tnot there\n' >>"$work/suite/MANIFEST.tsv"
printf 'wast/selftest.wast\t9\n' >"$work/known.tsv"
run --fuel 1000000 --manifest "$work/suite/MANIFEST.tsv" --expect-failures "$work/known.tsv"
expect_status 0
expect_line "wast/selftest.wast: $counts, 1 not applicable"
grep -q "note: counted" "$out" && fail "the manifest's command count differs"
expect_line "wast/simd/simd_fake.wast: 0 passed, 0 failed, 5 not applicable (SIMD not supported yet)"
[ "$(tail -n 1 "$out")" = "$counts" ] || fail "last line is not \"$counts\""

# Without wast2json nothing can run.
PATH=/nonexistent "$spectest" "$wast" >"$out" 2>&1
status=$?
expect_status 2
grep -q "wast2json not found" "$out" || fail "no word about the missing wast2json"

# A missing manifest skips (77).
run --manifest "$work/absent/wasm-spec/MANIFEST.tsv"
expect_status 77
expect_line "spec tests skipped: $work/absent/wasm-spec/MANIFEST.tsv not found"

# A script wast2json cannot read is one failed command.
printf '(module (func (export "f") (result i32) (i32.const 0))\n' >"$work/broken.wast"
run "$work/broken.wast"
expect_status 1
expect_line "$work/broken.wast: 0 passed, 1 failed, 0 not applicable"
[ "$(tail -n 1 "$out")" = "0 passed, 1 failed" ] || fail "wrong last line for a broken script"

# The wall-clock limit ends an endless loop: the rest of the script fails.
run --timeout 1 "$wast"
expect_status 1
grep -q "^$wast: timed out after 1 s" "$out" || fail "no timeout reported"
expect_line "$wast: $counts, 1 not applicable"

# Temporary folders are cleaned up.
leftover=$(ls -A "$work/tmp")
[ -z "$leftover" ] || fail "temporary folders left behind: $leftover"

echo "selftest: all checks passed"
