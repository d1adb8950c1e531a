#!/usr/bin/env bash
# Runs every test of the project, as CI does:
#   1. a warnings-as-errors build, and its whole CTest suite;
#   2. the process core's tests under ThreadSanitizer;
#   3. the engine's libFuzzer targets, FUZZ_SECONDS (default 60) each;
#   4. the whole suite under AddressSanitizer + UndefinedBehaviorSanitizer
#      (last, so that CTest's summary closes the output).
# Spec conformance tests read ../shared/wasm-spec and report a skip when it is absent.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh

jobs=$(nproc)
configure_and_build() {
    local dir=$1
    shift
    cmake -S . -B "$dir" -DLUN_WERROR=ON "$@" >/dev/null
    cmake --build "$dir" -j "$jobs"
}

echo "== build (warnings are errors) and test"
configure_and_build build
ctest --test-dir build --output-on-failure -j "$jobs"

echo "== ThreadSanitizer: process core"
configure_and_build build-tsan -DLUN_SANITIZE=thread
ctest --test-dir build-tsan --output-on-failure -L core

echo "== libFuzzer: decoder, validator and interpreter"
FUZZ_SECONDS=${FUZZ_SECONDS:-60} scripts/fuzz.sh

echo "== AddressSanitizer + UndefinedBehaviorSanitizer: every test"
configure_and_build build-asan -DLUN_SANITIZE=address,undefined
ctest --test-dir build-asan --output-on-failure -j "$jobs"
