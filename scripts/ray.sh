#!/usr/bin/env bash
# A local Ray cluster for the sweep tests and benchmarks: `start` starts a head node on loopback (2 CPUs, no
# dashboard) with the project's Ray (.venv/bin/ray, else ray on PATH) and prints its address (auto-discoverable by
# `chipfleet sweep --address auto` on this machine); `stop` stops it; `address` prints the address.
# Settings: CHIPFLEET_RAY_PORT (default 63790), CHIPFLEET_RAY_CPUS (default 2), CHIPFLEET_RAY_DIR (default
# /tmp/chipfleet-ray-$PORT: the cluster's temporary folder, kept apart from any other Ray on the machine).
set -euo pipefail
cd "$(dirname "$0")/.."
PORT="${CHIPFLEET_RAY_PORT:-63790}"
CPUS="${CHIPFLEET_RAY_CPUS:-2}"
DIR="${CHIPFLEET_RAY_DIR:-/tmp/chipfleet-ray-$PORT}"
RAY="$(pwd)/.venv/bin/ray"
[ -x "$RAY" ] || RAY="$(command -v ray || true)"
ADDRESS="127.0.0.1:$PORT"

need_ray() {
    if [ -z "$RAY" ]; then
        echo "scripts/ray.sh: Ray is not installed; pip install -e '.[sweep]' (make test installs it)" >&2
        exit 1
    fi
}

running() {
    "$RAY" status --address "$ADDRESS" >/dev/null 2>&1
}

start() {
    need_ray
    if running; then
        echo "$ADDRESS"
        return 0
    fi
    if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
        echo "scripts/ray.sh: port $PORT on 127.0.0.1 is taken by another program; set CHIPFLEET_RAY_PORT to a free port" >&2
        exit 1
    fi
    mkdir -p "$DIR"
    RAY_USAGE_STATS_ENABLED=0 "$RAY" start --head --node-ip-address 127.0.0.1 --port "$PORT" --num-cpus "$CPUS" \
        --include-dashboard=false --disable-usage-stats --temp-dir "$DIR" >"$DIR/start.log" 2>&1 \
        || { cat "$DIR/start.log" >&2; exit 1; }
    echo "$ADDRESS"
}

stop() {
    if [ -n "$RAY" ] && [ -d "$DIR" ]; then
        # only this cluster's processes: they were started with this temp folder
        "$RAY" stop --force >/dev/null 2>&1 || true
    fi
    rm -rf "$DIR"
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    address) echo "$ADDRESS" ;;
    *) echo "usage: scripts/ray.sh start|stop|address" >&2; exit 2 ;;
esac
