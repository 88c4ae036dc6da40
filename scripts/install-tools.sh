#!/usr/bin/env bash
# Installs what building Arbiter needs and is missing: the wasm target,
# wasm-bindgen-cli (the version Cargo.lock pins), and wasm-opt + esbuild
# from npm. cargo-leptos is not needed: scripts/build.sh does its steps.
# Each step is skipped when the tool already answers, so a warm machine pays
# nothing. Why the detours: see docs/toolchain.md.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

log() { printf '\033[1m[tools]\033[0m %s\n' "$*" >&2; }

# wasm-bindgen-cli must match the wasm-bindgen crate exactly.
WASM_BINDGEN_VERSION=$(awk '/^name = "wasm-bindgen"$/{getline; gsub(/"/,"",$3); print $3; exit}' Cargo.lock)

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  log "adding rust target wasm32-unknown-unknown"
  rustup target add wasm32-unknown-unknown
fi

if ! wasm-bindgen --version 2>/dev/null | grep -q " $WASM_BINDGEN_VERSION"; then
  log "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION (~3 min)"
  # --locked fails here: its lockfile names a version the index does not have.
  cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --force
fi

# wasm-opt from npm's binaryen (Debian's is too old: the page never hydrates)
# and esbuild (minifies the JS glue of release builds).
if [ ! -x tools/node_modules/.bin/wasm-opt ] || [ ! -x tools/node_modules/.bin/esbuild ]; then
  log "installing binaryen (wasm-opt) and esbuild from npm into tools/"
  (cd tools && npm ci --no-audit --no-fund --loglevel=error)
fi
