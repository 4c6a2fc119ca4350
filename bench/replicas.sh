#!/usr/bin/env bash
# Cluster serving throughput (issue 15): POST /v1/embed through nginx to 1 and to 2
# `attune serve --no-worker` replicas sharing one PostgreSQL registry, same load, same run
# (A/B/A so drift shows). Two layouts:
#   shared: the replicas share every core of this machine (what a second replica on the same
#           host buys);
#   pinned: each replica on its own core (taskset, RAYON_NUM_THREADS=1), standing in for
#           replicas on separate machines, against one replica on one core.
# Needs PostgreSQL, nginx and wrk from Debian's packages (installed when missing, as root).
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
command -v wrk >/dev/null || need+=(wrk)
command -v nginx >/dev/null || need+=(nginx-light)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
if [ ${#need[@]} -gt 0 ]; then apt-get update -q >/dev/null; DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}" >/dev/null; fi
cargo build --release -q
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
CONNS=${CONNS:-32}
SECS=${SECS:-20}
TEXTS=${TEXTS:-4}
work=$(mktemp -d)
chmod 755 "$work"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
  sleep 0.5
  rm -rf "$work"
}
trap cleanup EXIT
as_pg() { if [ "$(id -u)" = 0 ]; then setpriv --reuid=postgres --regid=postgres --init-groups -- "$@"; else "$@"; fi; }
mkdir "$work/pg" && { [ "$(id -u)" != 0 ] || chown postgres: "$work/pg"; }
as_pg "$PGBIN/initdb" -D "$work/pg/data" --auth=trust -U postgres --no-sync >/dev/null
as_pg "$PGBIN/postgres" -D "$work/pg/data" -p 15499 -k "$work/pg" -c listen_addresses=127.0.0.1 2>"$work/pg.log" &
pids+=($!)
for _ in $(seq 100); do psql -h 127.0.0.1 -p 15499 -U postgres -c 'select 1' >/dev/null 2>&1 && break; sleep 0.1; done
export ATTUNE_DATABASE_URL=postgres://postgres@127.0.0.1:15499/postgres ATTUNE_STORE=file://$work/store
mkdir -p "$work/store"

body=$(python3 - "$TEXTS" <<'PY'
import json, sys
n = int(sys.argv[1])
texts = ["How do I reset my password?", "I was charged twice for my order", "Where is my parcel? It is late",
         "The app crashes when I open settings", "Can I change the delivery address?", "Refund for a damaged item"]
print(json.dumps({"model": "sentence-transformers/all-MiniLM-L6-v2", "texts": (texts * 20)[:n]}))
PY
)
lua="$work/post.lua"
cat >"$lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer bench"
wrk.body = [[$body]]
LUA

# start_replica PORT CPUS THREADS
start_replica() {
  local home="$work/home-$1"
  mkdir -p "$home"
  ATTUNE_HOME=$home RAYON_NUM_THREADS=$3 taskset -c "$2" ./target/release/attune serve --no-worker --port "$1" --api-key bench 2>"$home/log" &
  pids+=($!)
  for _ in $(seq 150); do curl -sf "http://127.0.0.1:$1/health" >/dev/null && break; sleep 0.2; done
  curl -sf -H "Authorization: Bearer bench" -H "Content-Type: application/json" -d "$body" "http://127.0.0.1:$1/v1/embed" >/dev/null
}

# balance PORT... : nginx on 18100 over these replicas, round robin.
balance() {
  [ -f "$work/nginx.pid" ] && { kill "$(cat "$work/nginx.pid")"; sleep 0.5; }
  { echo "pid $work/nginx.pid; error_log $work/nginx.err; worker_processes 1; events { worker_connections 1024; }"
    echo "http { access_log off; upstream a { keepalive 64;"
    for p in "$@"; do echo "server 127.0.0.1:$p;"; done
    echo "} server { listen 127.0.0.1:18100; location / { proxy_pass http://a; proxy_http_version 1.1; proxy_set_header Connection \"\"; } } }"
  } >"$work/nginx.conf"
  nginx -c "$work/nginx.conf" -p "$work"
  sleep 0.3
}

rate() {
  wrk -t2 -c"$CONNS" -d"${SECS}s" -s "$lua" "http://127.0.0.1:18100/v1/embed" | awk '/Requests\/sec/ {print $2} /Non-2xx/ {print "ERRORS " $0 > "/dev/stderr"}'
}

echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores; $CONNS connections, ${SECS}s, $TEXTS texts per request, via nginx"
last=$(( $(nproc) - 1 ))
start_replica 18101 "0-$last" 0
start_replica 18102 "0-$last" 0
balance 18101; a1=$(rate)
balance 18101 18102; b=$(rate)
balance 18101; a2=$(rate)
echo "shared cores: 1 replica $a1 req/s, 2 replicas $b req/s, 1 replica again $a2 req/s; ratio $(python3 -c "print(f'{2*$b/($a1+$a2):.2f}x')")"
for p in "${pids[@]:1}"; do kill "$p"; done
pids=("${pids[0]}")
sleep 1
start_replica 18103 0 1
start_replica 18104 1 1
balance 18103; a1=$(rate)
balance 18103 18104; b=$(rate)
balance 18103; a2=$(rate)
echo "pinned, one core each: 1 replica $a1 req/s, 2 replicas $b req/s, 1 replica again $a2 req/s; ratio $(python3 -c "print(f'{2*$b/($a1+$a2):.2f}x')")"
