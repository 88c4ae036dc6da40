#!/usr/bin/env bash
# Builds Arbiter (release) and serves it at http://127.0.0.1:3000 on
# sqlite://data/arbiter.db with the demo project and demo logins.
# Installs what is missing first. Extra arguments go to `arbiter serve`.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash scripts/install-tools.sh
printf '\033[1m[serve]\033[0m building the release (first time: ~10 min on 2 cores)\n' >&2
bash scripts/build.sh --release
exec target/release/arbiter --database "${ARBITER_DATABASE:-sqlite://data/arbiter.db}" \
  serve --demo --addr "${ARBITER_ADDR:-127.0.0.1:3000}" --site-root target/site "$@"
