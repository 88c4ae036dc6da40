#!/usr/bin/env bash
# Runs every test: unit and database tests, HTTP tests against a spawned
# server, and the browser tests (Playwright driving Debian chromium).
# Installs what is missing first; a warm machine skips all of it.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
log() { printf '\033[1m[test]\033[0m %s\n' "$*" >&2; }

bash scripts/install-tools.sh
if [ ! -x /usr/bin/chromium ]; then
  log "installing Debian chromium"
  if [ "$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium; else sudo apt-get update -qq && sudo apt-get install -y -qq chromium; fi
fi
if [ ! -d end2end/node_modules/@playwright/test ] || [ ! -d end2end/node_modules/@axe-core/playwright ]; then
  log "installing the end2end npm packages"
  (cd end2end && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
fi

log "building the site and the server (scripts/build.sh)"
bash scripts/build.sh

# The same environment the build used, so `cargo test` reuses its artifacts
# instead of compiling the tree a second time.
source scripts/build-env.sh

log "unit, database and HTTP tests (cargo test)"
cargo test --workspace --exclude frontend --exclude bench

log "the engine, HTTP, authorization, CLI and durability tests again on PostgreSQL (scripts/pg.sh)"
pgdir=$(mktemp -d /tmp/arbiter-pg.XXXXXX)
trap 'bash scripts/pg.sh stop "$pgdir"; rm -rf "$pgdir"' EXIT
ARBITER_TEST_POSTGRES=$(bash scripts/pg.sh start "$pgdir") \
  cargo test --workspace --exclude frontend --exclude bench --test engine --test it

log "the REST API against docs/openapi.json (schemathesis)"
bash scripts/api-check.sh

log "browser tests (Playwright + chromium)"
(cd end2end && npx playwright test)
