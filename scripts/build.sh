#!/usr/bin/env bash
# Builds the site and the server: what `cargo leptos build [--release]`
# (cargo-leptos 0.3.11) does for this workspace, step for step, without
# having to compile cargo-leptos first (~11-14 minutes on 2 cores). The
# steps and why they match: docs/toolchain.md.
#
#   bash scripts/build.sh            debug:   target/debug/arbiter + target/site
#   bash scripts/build.sh --release  release: target/release/arbiter + target/site
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
log() { printf '\033[1m[build]\033[0m %s\n' "$*" >&2; }

release=0
[ "${1:-}" = "--release" ] && release=1
export PATH="$root/tools/node_modules/.bin:$PATH"

source scripts/build-env.sh

site=target/site
pkg=$site/pkg
if [ $release = 1 ]; then front_profile=(--profile=wasm-release); front_dir=wasm-release; server_profile=(--release)
else front_profile=(); front_dir=debug; server_profile=(); fi

mkdir -p "$pkg"
find "$site" -mindepth 1 -maxdepth 1 ! -name pkg -exec rm -rf {} +
rm -rf "$pkg"/*
# Two bundles: `arbiter` (every page; what cargo-leptos builds) and
# `arbiter-annotator` (every page but the admins', which the server sends
# with every other page; docs/decisions.md).
for bundle in arbiter arbiter-annotator; do
  features=()
  [ "$bundle" = arbiter-annotator ] && features=(--features=annotator-only)
  log "browser side: frontend → wasm32 ($front_dir): $bundle"
  cargo build --package=frontend --lib --target-dir="$root/target/front" --target=wasm32-unknown-unknown \
    --no-default-features "${features[@]}" "${front_profile[@]}"
  wasm-bindgen --target=web --no-typescript --out-name="$bundle" --out-dir="$pkg" \
    "target/front/wasm32-unknown-unknown/$front_dir/frontend.wasm"
  mv "$pkg/${bundle}_bg.wasm" "$pkg/$bundle.wasm"
  if [ $release = 1 ]; then
    log "wasm-opt -Oz: $bundle"
    wasm-opt -Oz --enable-bulk-memory --enable-nontrapping-float-to-int "$pkg/$bundle.wasm" -o "$pkg/$bundle.wasm"
    esbuild "$pkg/$bundle.js" --minify --format=esm --allow-overwrite --log-level=warning --outfile="$pkg/$bundle.js"
  fi
done
cp style/main.css "$pkg/arbiter.css"
cp -r public/. "$site/"

log "server side: the arbiter binary"
cargo build --package=server --bin=arbiter --no-default-features "${server_profile[@]}"
log "done: target/$([ $release = 1 ] && echo release || echo debug)/arbiter and $site/"
