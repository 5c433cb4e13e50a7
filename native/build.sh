#!/usr/bin/env bash
# Builds pyz's two libdeflate artifacts:
#   native/pyz-native.<platform>.node   Node-API addon (Rust, no crates) linked with Debian's libdeflate.a
#   native/build/pyz-deflate.wasm       the same libdeflate version, compiled from Debian's source
#                                       package with clang to a WASM module without imports
# Both share src/pyz_deflate.c, so they produce byte-identical deflate streams.
#
# Installs nothing: when a tool is missing it prints the apt packages to install and fails.
# Idempotent: libdeflate's source is fetched once into native/vendor/ (gitignored) with a private
# apt configuration, so the system's apt state is left unchanged.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"

fail() { echo "native/build.sh: $*" >&2; exit 1; }

# ---- prerequisites ---------------------------------------------------------------------------
multiarch="$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)"
missing=()
[ -f /usr/include/libdeflate.h ] && [ -f "/usr/lib/$multiarch/libdeflate.a" ] || missing+=(libdeflate-dev)
command -v clang-16 >/dev/null || missing+=(clang-16)
command -v wasm-ld-16 >/dev/null || [ -x /usr/lib/llvm-16/bin/wasm-ld ] || missing+=(lld-16)
[ -f /usr/lib/wasm32-wasi/libc.a ] || missing+=(wasi-libc)
[ -f /usr/lib/llvm-16/lib/clang/16/lib/wasi/libclang_rt.builtins-wasm32.a ] || missing+=(libclang-rt-16-dev-wasm32)
command -v dpkg-source >/dev/null || missing+=(dpkg-dev)
command -v cc >/dev/null || missing+=(gcc)
if [ ${#missing[@]} -gt 0 ]; then
  fail "missing apt packages: ${missing[*]}
  fix: apt-get update && apt-get install -y ${missing[*]}"
fi
command -v cargo >/dev/null || fail "cargo not found
  fix: install a Rust toolchain (rustup) so that cargo is on PATH"
napi="$here/../node_modules/.bin/napi"
[ -x "$napi" ] || fail "@napi-rs/cli not found at $napi
  fix: run npm install at the repository root"

# ---- libdeflate source, same version as the installed libdeflate-dev --------------------------
version="$(dpkg-query -W -f='${Version}' libdeflate-dev)"
upstream="${version%-*}"
source_dir="$here/vendor/libdeflate-$upstream"
if [ ! -f "$source_dir/lib/deflate_compress.c" ]; then
  apt_dir="$here/vendor/apt"
  rm -rf "$apt_dir" "$source_dir"
  mkdir -p "$apt_dir/sources.list.d" "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" "$here/vendor/download"
  : > "$apt_dir/sources.list"
  # The machine's own entries, as deb-src (deb822 .sources files and one-line .list files).
  found=0
  for file in /etc/apt/sources.list.d/*.sources; do
    [ -f "$file" ] || continue
    sed -E 's/^Types:.*/Types: deb-src/' "$file" > "$apt_dir/sources.list.d/$(basename "$file")"
    found=1
  done
  for file in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$file" ] || continue
    sed -nE 's/^[[:space:]]*deb[[:space:]]/deb-src /p' "$file" >> "$apt_dir/sources.list"
    found=1
  done
  [ "$found" = 1 ] || fail "no apt sources found under /etc/apt to derive deb-src entries from"
  apt_options=(
    -o "Dir::Etc::SourceList=$apt_dir/sources.list"
    -o "Dir::Etc::SourceParts=$apt_dir/sources.list.d"
    -o "Dir::State::Lists=$apt_dir/lists"
    -o "Dir::Cache=$apt_dir/cache"
    -o "APT::Sandbox::User=root"
  )
  echo "native/build.sh: fetching libdeflate $version source (private apt state in $apt_dir)"
  apt-get "${apt_options[@]}" -qq update
  (cd "$here/vendor/download" && apt-get "${apt_options[@]}" -qq source "libdeflate=$version")
  mv "$here/vendor/download/libdeflate-$upstream" "$source_dir"
  rm -rf "$here/vendor/download" "$apt_dir"
fi
[ -f "$source_dir/lib/deflate_compress.c" ] || fail "libdeflate source missing in $source_dir"

# ---- WASM module --------------------------------------------------------------------------------
mkdir -p "$here/build"
wasm="$here/build/pyz-deflate.wasm"
echo "native/build.sh: compiling $wasm"
# -O3 with SIMD128 and bulk memory (memset/memcpy as single instructions; both in every Node
# this project supports) is ~10 % faster than -O2 on site-packages, with the same output bytes.
# Compiled and linked in two steps: clang-16 runs binaryen's wasm-opt on any optimised link when
# one is on PATH, without our feature flags, and that fails; the link step therefore has no -O.
objects="$here/build/wasm-objects"
rm -rf "$objects"
mkdir -p "$objects"
for source in src/pyz_wasm.c src/pyz_deflate.c "$source_dir/lib/deflate_compress.c" "$source_dir/lib/crc32.c" "$source_dir/lib/utils.c"; do
  clang-16 --target=wasm32-wasi --sysroot=/usr -isystem /usr/include/wasm32-wasi \
    -O3 -msimd128 -mbulk-memory -DNDEBUG -std=c99 -Wall \
    -I"$source_dir" -I"$here/src" \
    -c "$source" -o "$objects/$(basename "$source" .c).o"
done
clang-16 --target=wasm32-wasi --sysroot=/usr \
  -nostartfiles -Wl,--no-entry -Wl,--strip-all -L/usr/lib/wasm32-wasi \
  -o "$wasm.tmp" "$objects"/*.o
rm -rf "$objects"
node --input-type=module -e "
  import { readFileSync } from 'node:fs';
  const module = new WebAssembly.Module(readFileSync(process.argv[1]));
  const imports = WebAssembly.Module.imports(module);
  if (imports.length !== 0) {
    console.error('native/build.sh: the WASM module must have no imports, it has: ' + imports.map((i) => i.module + '.' + i.name).join(', '));
    process.exit(1);
  }
" "$wasm.tmp"
mv "$wasm.tmp" "$wasm"

# ---- Node-API addon -----------------------------------------------------------------------------
echo "native/build.sh: building the Node-API addon"
"$napi" build --platform --release --strip --no-js
ls pyz-native.*.node >/dev/null 2>&1 || fail "napi build produced no pyz-native.*.node"
echo "native/build.sh: done: $(ls pyz-native.*.node) build/pyz-deflate.wasm"
