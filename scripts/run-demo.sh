#!/usr/bin/env bash
# The newcomer's first command: installs what is missing, builds the project
# and runs the bundled example application.
#   --no-install   skip the package check (used by `make demo`)
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" != "--no-install" ]; then
    scripts/install-deps.sh
fi
cmake -S . -B build >/dev/null
cmake --build build -j "$(nproc)"
echo "== running build/core-demo"
exec build/core-demo
