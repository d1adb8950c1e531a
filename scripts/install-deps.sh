#!/usr/bin/env bash
# Installs the Debian packages the project needs to build, test and benchmark.
# Idempotent: packages already present are skipped, and apt-get runs only when
# something is missing.
set -euo pipefail

packages=(
  build-essential cmake pkg-config clang lld llvm libclang-rt-14-dev
  libcmocka-dev libssl-dev libjemalloc-dev
  wabt
  wasi-libc libclang-rt-14-dev-wasm32
  erlang-base
  nodejs
  valgrind
  curl openssl wrk nginx-light
)

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$package")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all packages present"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -q
"${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
