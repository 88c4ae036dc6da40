#!/usr/bin/env bash
# A throwaway PostgreSQL for tests and benchmarks, from the machine's own
# binaries: no service, no root-owned state. Installs the Debian package
# when the binaries are missing.
#
#   bash scripts/pg.sh start DIR [--durable]   prints the URL (postgres://postgres@127.0.0.1:PORT/postgres)
#   bash scripts/pg.sh stop DIR
#   bash scripts/pg.sh restart DIR              same port, same data
#
# Without --durable the server skips fsync (tests); --durable keeps
# PostgreSQL's durability defaults and gives it a quarter of the memory as
# shared_buffers (benchmarks). As root, the server runs as the
# `postgres` user (PostgreSQL refuses to run as root).
set -euo pipefail
cmd=${1:?start|stop|restart}
dir=${2:?folder for the cluster}
log() { printf '\033[1m[pg]\033[0m %s\n' "$*" >&2; }

bin=""
for v in 17 16 15 14; do
  if [ -x "/usr/lib/postgresql/$v/bin/initdb" ]; then bin=/usr/lib/postgresql/$v/bin; break; fi
done
if [ -z "$bin" ]; then
  log "installing PostgreSQL (apt package postgresql)"
  if [ "$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq postgresql >/dev/null
  else sudo apt-get update -qq && sudo apt-get install -y -qq postgresql >/dev/null; fi
  for v in 17 16 15 14; do
    if [ -x "/usr/lib/postgresql/$v/bin/initdb" ]; then bin=/usr/lib/postgresql/$v/bin; break; fi
  done
fi

as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case $cmd in
  start)
    mkdir -p "$dir"
    [ "$(id -u)" = 0 ] && chown postgres "$dir"
    if [ ! -f "$dir/data/PG_VERSION" ]; then
      as_owner "$bin/initdb" -D "$dir/data" -U postgres -A trust --no-sync -E UTF8 --locale=C.UTF-8 >/dev/null
    fi
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    opts="-c listen_addresses=127.0.0.1 -p $port -k $dir -c max_connections=300 -c shared_buffers=256MB"
    if [ "${3:-}" != "--durable" ]; then
      opts="$opts -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    else
      # Benchmarks: PostgreSQL's usual sizing, a quarter of the memory.
      quarter_mb=$(awk '/MemTotal/ {print int($2 / 4096)}' /proc/meminfo)
      opts="${opts/shared_buffers=256MB/shared_buffers=${quarter_mb}MB}"
    fi
    echo "$port" > "$dir/port"
    echo "$opts" > "$dir/opts"
    as_owner "$bin/pg_ctl" -D "$dir/data" -o "$opts" -l "$dir/log" -w start >/dev/null
    echo "postgres://postgres@127.0.0.1:$port/postgres"
    ;;
  restart)
    as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -o "$(cat "$dir/opts")" -l "$dir/log" -w restart >/dev/null
    ;;
  stop)
    if [ -f "$dir/data/postmaster.pid" ]; then
      as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null || true
    fi
    ;;
  *) echo "usage: pg.sh start|stop|restart DIR" >&2; exit 2 ;;
esac
