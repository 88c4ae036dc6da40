#!/usr/bin/env bash
# Installs what building Arbiter needs and is missing: the wasm target,
# cargo-leptos, wasm-bindgen-cli (the version Cargo.lock pins) and wasm-opt.
# Each step is skipped when the tool already answers, so a warm machine pays
# nothing. Why the detours: see docs/toolchain.md.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

log() { printf '\033[1m[tools]\033[0m %s\n' "$*" >&2; }

CARGO_LEPTOS_VERSION=0.3.11
# wasm-bindgen-cli must match the wasm-bindgen crate exactly.
WASM_BINDGEN_VERSION=$(awk '/^name = "wasm-bindgen"$/{getline; gsub(/"/,"",$3); print $3; exit}' Cargo.lock)

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  log "adding rust target wasm32-unknown-unknown"
  rustup target add wasm32-unknown-unknown
fi

if ! cargo leptos --version 2>/dev/null | grep -q "$CARGO_LEPTOS_VERSION"; then
  # Its own lockfile pulls a crate that needs a newer rustc than this machine
  # has; building from the unpacked source with one dependency pinned back works.
  log "installing cargo-leptos $CARGO_LEPTOS_VERSION from source (~15 min on 2 cores)"
  tmp=$(mktemp -d)
  mkdir -p "$tmp/fetch/src" && touch "$tmp/fetch/src/lib.rs"
  cat > "$tmp/fetch/Cargo.toml" <<TOML
[package]
name = "fetch-cargo-leptos"
version = "0.0.0"
edition = "2021"
[dependencies]
cargo-leptos = "=$CARGO_LEPTOS_VERSION"
TOML
  (cd "$tmp/fetch" && cargo fetch -q)
  src=$(ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/cargo-leptos-"$CARGO_LEPTOS_VERSION" | head -n1)
  cp -r "$src" "$tmp/cargo-leptos"
  cd "$tmp/cargo-leptos"
  rm -f rust-toolchain.toml rust-toolchain
  cargo update -q -p cargo-util-schemas --precise 0.14.1
  cargo install --locked --path . --root "${CARGO_HOME:-$HOME/.cargo}"
  cd "$root"
  rm -rf "$tmp"
fi

if ! wasm-bindgen --version 2>/dev/null | grep -q " $WASM_BINDGEN_VERSION"; then
  log "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION (~3 min)"
  # --locked fails here: its lockfile names a version the index does not have.
  cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --force
fi

# wasm-opt from npm's binaryen (Debian's is too old: the page never hydrates).
if [ ! -x tools/node_modules/.bin/wasm-opt ]; then
  log "installing binaryen (wasm-opt) from npm into tools/"
  (cd tools && npm ci --no-audit --no-fund --loglevel=error)
fi
