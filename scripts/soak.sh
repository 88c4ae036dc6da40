#!/usr/bin/env bash
# The long crash soak: writers annotate while the server is killed with
# SIGKILL every 10 seconds, for ARBITER_SOAK_SECONDS (default 300); after
# every kill, each acknowledged key must be stored once and
# PRAGMA integrity_check must say ok.
set -euo pipefail
cd "$(dirname "$0")/.."
export RUSTFLAGS="--cfg erase_components"
export ARBITER_SOAK_SECONDS="${ARBITER_SOAK_SECONDS:-300}"
cargo test -p server --test it -- --ignored --nocapture durability::soak_kill_every_ten_seconds
