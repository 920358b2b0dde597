#!/usr/bin/env bash
# A local Ray cluster for the sweep tests and benchmarks: `start` starts a head node on loopback (2 CPUs, no
# dashboard) with the project's Ray (.venv/bin/ray, else ray on PATH) and prints its address (auto-discoverable by
# `chipfleet sweep --address auto` with RAY_ADDRESS set to it; Ray Client on PORT+1); `stop` stops this cluster's
# processes only; `address` prints the address.
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
MARKER=".chipfleet-ray"
# DIR as a literal in an extended regex, ended by / or a space or the end of the command line, so the cluster of
# /tmp/chipfleet-ray-6379 never matches the processes of /tmp/chipfleet-ray-63790
DIR_RE="$(printf '%s' "$DIR" | sed 's/[][\\.*^$+?(){}|]/\\&/g')"

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
    touch "$DIR/$MARKER"  # `stop` removes only a folder that holds it
    # every fixed port derived from PORT (Ray's defaults 10001, 8265, 52365 would collide between two clusters)
    RAY_USAGE_STATS_ENABLED=0 "$RAY" start --head --node-ip-address 127.0.0.1 --port "$PORT" --num-cpus "$CPUS" \
        --ray-client-server-port "$((PORT + 1))" --dashboard-port "$((PORT + 2))" \
        --dashboard-agent-listen-port "$((PORT + 3))" --include-dashboard=false --disable-usage-stats \
        --temp-dir "$DIR" >"$DIR/start.log" 2>&1 \
        || { cat "$DIR/start.log" >&2; exit 1; }
    echo "$ADDRESS"
}

# this cluster's processes: those started with its temporary folder in their command line, and their children
cluster_pids() {
    local found more pid
    found="$(pgrep -f -- "--temp[-_]dir[= ]$DIR_RE(/| |\$)|$DIR_RE/session|ray.util.client.server --address=[^ ]*:$PORT( |\$)" || true)"
    more="$found"
    while [ -n "$more" ]; do
        local next=""
        for pid in $more; do
            next="$next $(pgrep -P "$pid" || true)"
        done
        more="$(echo $next)"
        found="$found $more"
    done
    echo $found
}

stop() {
    local pids
    pids="$(cluster_pids)"
    if [ -n "$pids" ]; then
        kill -TERM $pids 2>/dev/null || true
        for _ in 1 2 3 4 5 6 7 8 9 10; do
            kill -0 $pids 2>/dev/null || break
            sleep 0.5
        done
        kill -KILL $pids 2>/dev/null || true
    fi
    if [ -e "$DIR/$MARKER" ]; then  # only a folder this script made: CHIPFLEET_RAY_DIR may name anything
        rm -rf "$DIR"
    fi
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    address) echo "$ADDRESS" ;;
    *) echo "usage: scripts/ray.sh start|stop|address" >&2; exit 2 ;;
esac
