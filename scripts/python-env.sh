#!/usr/bin/env bash
# Makes (once) and prints the path of the Python venv that the checks which
# only a reference tool can make use: schemathesis (the API against its
# OpenAPI description), pyarrow and datasets (export files load as typed
# columns). Kept in target/pyenv between runs; rebuilt when the pins change.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv="$root/target/pyenv"
pins="$root/scripts/python-requirements.txt"
stamp="$venv/.pins"
# Tests run in parallel in one process: the first makes the venv, the
# others wait for it here instead of racing it.
mkdir -p "$root/target"
exec 9>"$root/target/.pyenv.lock"
flock 9
if [ ! -x "$venv/bin/python" ] || ! cmp -s "$pins" "$stamp"; then
  printf '\033[1m[python]\033[0m making %s (schemathesis, pyarrow, datasets, krippendorff, scikit-learn)\n' "$venv" >&2
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --no-cache-dir --disable-pip-version-check -r "$pins" >&2
  cp "$pins" "$stamp"
fi
echo "$venv"
