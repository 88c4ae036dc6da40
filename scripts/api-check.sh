#!/usr/bin/env bash
# A peer's test suite for the REST API: schemathesis generates requests from
# docs/openapi.json (valid and invalid ones) and checks every answer against
# it (`--checks all`: no 5xx, documented statuses, content types and bodies,
# 401 without a token, 405 for undocumented methods, invalid input refused,
# valid input accepted), once with an admin's token and once with an
# annotator's. Runs against the debug binary on a throwaway database.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
venv=$(bash scripts/python-env.sh)
bin=${ARBITER_BIN:-$root/target/debug/arbiter}
tmp=$(mktemp -d)
db="sqlite://$tmp/api-check.db"
"$bin" --database "$db" serve --demo --addr 127.0.0.1:0 > "$tmp/serve.out" 2> "$tmp/serve.err" &
pid=$!
trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -rf "$tmp"' EXIT
for _ in $(seq 100); do grep -q 'running at' "$tmp/serve.out" 2>/dev/null && break; sleep 0.1; done
url=$(grep -o 'http://[0-9.:]*' "$tmp/serve.out" | head -n1)
[ -n "$url" ] || { cat "$tmp/serve.err" >&2; echo "the server did not start" >&2; exit 1; }
admin=$("$bin" --database "$db" token create admin --name api-check)
annotator=$("$bin" --database "$db" token create annotator --name api-check)
cd "$tmp"   # schemathesis leaves its caches in the working directory
status=0
for who in admin annotator; do
  token=${!who}
  printf '\033[1m[api-check]\033[0m schemathesis as %s\n' "$who" >&2
  "$venv/bin/st" --config-file "$root/scripts/schemathesis.toml" run "$root/docs/openapi.json" \
    --url "$url/api/v1" -H "Authorization: Bearer $token" --max-examples "${ARBITER_API_CHECK_EXAMPLES:-20}" --seed 1 --generation-database none \
    --no-color || status=1
done
exit $status
