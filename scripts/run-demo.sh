#!/usr/bin/env bash
# The newcomer's first command: installs what is missing, builds the project
# and runs the bundled example application, a supervisor written in C for
# wasm32-wasi that restarts a crashing child, on the `lunatic` command.
#   --no-install   skip the package check (used by `make demo`)
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" != "--no-install" ]; then
    scripts/install-deps.sh
fi
cmake -S . -B build >/dev/null
cmake --build build -j "$(nproc)"
echo "== build/lunatic run build/examples/guest/supervisor.wasm"
exec build/lunatic run build/examples/guest/supervisor.wasm
