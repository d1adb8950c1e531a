#!/usr/bin/env bash
# Runs every test of the project, as CI does:
#   1. a warnings-as-errors build, and its whole CTest suite;
#   2. the same build and suite under AddressSanitizer + UndefinedBehaviorSanitizer;
#   3. the process core's tests under ThreadSanitizer.
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

echo "== AddressSanitizer + UndefinedBehaviorSanitizer: every test"
configure_and_build build-asan -DLUN_SANITIZE=address,undefined
ctest --test-dir build-asan --output-on-failure -j "$jobs"
