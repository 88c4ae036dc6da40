# Sourced by build.sh and test.sh: the environment cargo-leptos gives both
# builds (the browser's and the server's), so `cargo test` reuses the
# artifacts of the build instead of compiling the tree again. Leptos reads
# LEPTOS_OUTPUT_NAME at compile time (the wasm file name), and
# erase_components must be the same on both sides or hydration fails.
export LEPTOS_OUTPUT_NAME=arbiter LEPTOS_SITE_ROOT=target/site LEPTOS_SITE_PKG_DIR=pkg \
  LEPTOS_SITE_ADDR=127.0.0.1:3000 LEPTOS_RELOAD_PORT=3001 LEPTOS_LIB_DIR=frontend LEPTOS_BIN_DIR=server \
  LEPTOS_HASH_FILES=false LEPTOS_JS_MINIFY=false
export RUSTFLAGS="--cfg erase_components"
unset LEPTOS_WATCH
