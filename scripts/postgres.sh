#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the run store's tests: `start` installs Debian's postgresql when missing (root,
# apt-get, quiet, idempotent), creates a cluster under a temporary folder, listens on 127.0.0.1 only with trust
# authentication for loopback, and prints its URL; `url` prints the URL; `stop` stops it and removes its folder.
# Settings: CHIPFLEET_PG_PORT (default 54329), CHIPFLEET_PG_DIR (default /tmp/chipfleet-pg-$PORT).
set -euo pipefail
PORT="${CHIPFLEET_PG_PORT:-54329}"
DIR="${CHIPFLEET_PG_DIR:-/tmp/chipfleet-pg-$PORT}"
URL="postgresql://postgres@127.0.0.1:$PORT/postgres"

bindir() {
    local initdb
    initdb="$(ls -d /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -n 1 || true)"
    [ -n "$initdb" ] && dirname "$initdb"
}

install() {
    if [ -n "$(bindir)" ]; then
        return 0
    fi
    if [ "$(id -u)" -ne 0 ]; then
        echo "scripts/postgres.sh: PostgreSQL is missing and installing it needs root (apt-get install postgresql)" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq --no-install-recommends postgresql >/dev/null
}

# run a PostgreSQL program as the cluster's owner: initdb and postgres refuse to run as root
as_owner() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

running() {
    [ -f "$DIR/data/postmaster.pid" ] && as_owner "$(bindir)/pg_ctl" -D "$DIR/data" status >/dev/null 2>&1
}

start() {
    install
    local bin
    bin="$(bindir)"
    if running; then
        echo "$URL"
        return 0
    fi
    if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
        echo "scripts/postgres.sh: port $PORT on 127.0.0.1 is taken by another program; set CHIPFLEET_PG_PORT to a free port" >&2
        exit 1
    fi
    rm -rf "$DIR"
    mkdir -p "$DIR"
    if [ "$(id -u)" -eq 0 ]; then
        chown postgres:postgres "$DIR"
    fi
    as_owner "$bin/initdb" -D "$DIR/data" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 >"$DIR/initdb.log" 2>&1 \
        || { cat "$DIR/initdb.log" >&2; exit 1; }
    # loopback only, sockets in the cluster's folder (not /var/run/postgresql), no fsync: a throwaway test cluster
    as_owner "$bin/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -p $PORT -k $DIR -c fsync=off -c full_page_writes=off -c max_connections=200" \
        start >/dev/null || { cat "$DIR/server.log" >&2; exit 1; }
    echo "$URL"
}

stop() {
    if [ -d "$DIR/data" ] && [ -n "$(bindir)" ]; then
        as_owner "$(bindir)/pg_ctl" -D "$DIR/data" -m fast -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$DIR"
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    url) echo "$URL" ;;
    *) echo "usage: scripts/postgres.sh start|stop|url" >&2; exit 2 ;;
esac
