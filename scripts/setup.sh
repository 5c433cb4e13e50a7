#!/usr/bin/env bash
# Sets up a fresh checkout: system packages (Debian), npm dependencies, the TypeScript build,
# the libdeflate native addon and its WASM build. Idempotent; safe to re-run.
set -euo pipefail
cd "$(dirname "$0")/.."
export PIP_RETRIES=0

APT_PACKAGES=(libdeflate-dev clang-16 lld-16 wasi-libc libclang-rt-16-dev-wasm32 dpkg-dev zip unzip 7zip chromium)
missing=()
for package in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' || missing+=("$package")
done
if ((${#missing[@]})); then
  echo "setup: installing Debian packages: ${missing[*]}"
  SUDO=""
  if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

echo "setup: npm ci"
npm ci --no-audit --no-fund --loglevel=error
echo "setup: TypeScript build"
npm run build --silent
echo "setup: native addon and WASM module"
npm run build:native --silent
