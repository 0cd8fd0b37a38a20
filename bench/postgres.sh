#!/usr/bin/env bash
# The benchmarks on PostgreSQL. Starts a throwaway PostgreSQL (loopback, a temporary directory, as the postgres user)
# unless CHAT_POSTGRES names one, then either
#   bench/postgres.sh single [WORKLOAD...]   one node on PostgreSQL: bench/run.sh's workloads (default: direct group
#                                            offline restart), for comparison with bench/run.sh on the embedded store
#   bench/postgres.sh cluster [N]            N nodes (default 3) on one database, every node a seed; chat bench direct
#                                            and group with the users spread over all of them (--server a,b,c), twice
#                                            (CLUSTER_WORKLOADS="direct" and RUNS=4 change which and how often;
#                                            NODE_FLAGS, as for bench/run.sh, go to every node; KEEP_LOGS=DIR keeps
#                                            the nodes' output there)
# Every node and the load generator share this machine's cores with PostgreSQL. Bounded: each run stops by itself.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-single}
shift || true

pg_dir=""
stop_pg() {
  if [ -n "$pg_dir" ]; then
    runuser -u postgres -- "$pg_bin/pg_ctl" -D "$pg_dir/data" -m fast stop >/dev/null 2>&1 || true
    rm -rf "$pg_dir"
  fi
}
if [ -z "${CHAT_POSTGRES:-}" ]; then
  pg_bin=$(dirname "$(ls /usr/lib/postgresql/*/bin/initdb | sort -V | tail -n 1)")
  [ -x "$pg_bin/initdb" ] || { echo "PostgreSQL's server programs are missing: apt-get install postgresql" >&2; exit 1; }
  pg_dir=$(mktemp -d)
  trap stop_pg EXIT # until the nodes' cleanup below takes over: a failed step never leaves the server running
  chown postgres "$pg_dir"
  pg_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  runuser -u postgres -- "$pg_bin/initdb" -D "$pg_dir/data" -A trust -U postgres >/dev/null
  runuser -u postgres -- "$pg_bin/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/log" -w \
    -o "-p $pg_port -k $pg_dir -c listen_addresses=127.0.0.1 -c max_connections=300" start >/dev/null
  runuser -u postgres -- psql -h 127.0.0.1 -p "$pg_port" -U postgres -qc "CREATE DATABASE chat" >/dev/null
  export CHAT_POSTGRES="Host=127.0.0.1;Port=$pg_port;Username=postgres;Database=chat"
fi
export CHAT_PERSISTENCE=postgres

if [ "$mode" = single ]; then
  trap stop_pg EXIT
  [ $# -eq 0 ] && set -- direct group offline restart
  bench/run.sh "$@"
  exit 0
fi

[ "$mode" = cluster ] || { echo "usage: bench/postgres.sh single [WORKLOAD...] | cluster [N]" >&2; exit 2; }
size=${1:-3}
for project in Chat.Node Chat.Cli; do dotnet build -c Release "$project" -v quiet -nologo >/dev/null; done
node=Chat.Node/bin/Release/net10.0/Chat.Node
chat=Chat.Cli/bin/Release/net10.0/chat
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
cluster_ports=(); client_ports=()
for i in $(seq 1 "$size"); do cluster_ports+=("$(free_port)"); client_ports+=("$(free_port)"); done
seeds=$(printf '127.0.0.1:%s,' "${cluster_ports[@]}"); seeds=${seeds%,}
servers=$(printf '127.0.0.1:%s,' "${client_ports[@]}"); servers=${servers%,}
work=$(mktemp -d)
# the bench registers thousands of users from one address, without phones (verification in its test mode); its users
# send as fast as the nodes take them, to users who never wrote back (no send rate, no stranger quota)
printf 'chat.verification.mode = auto\nchat.limits.registrations-per-address = 0\nchat.limits.max-connections-per-address = 0\n' >"$work/bench.conf"
printf 'chat.limits.sends-per-user = 0\nchat.limits.stranger-inbox-messages = 0\nchat.limits.stranger-inbox-bytes = 0\n' >>"$work/bench.conf"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  [ -n "${KEEP_LOGS:-}" ] && mkdir -p "$KEEP_LOGS" && cp "$work"/node*.log "$KEEP_LOGS"/
  rm -rf "$work"
  stop_pg
}
trap cleanup EXIT
for i in $(seq 0 $((size - 1))); do
  "$node" --port "${client_ports[$i]}" --data "$work/data$i" --cluster-port "${cluster_ports[$i]}" --seeds "$seeds" \
    --config "$work/bench.conf" ${NODE_FLAGS:-} >"$work/node$i.log" 2>&1 &
  pids+=($!)
done
for i in $(seq 0 $((size - 1))); do
  for _ in $(seq 1 240); do grep -q '^listening on' "$work/node$i.log" && break; sleep 0.5; done
  grep -q '^listening on' "$work/node$i.log" || { echo "node $i did not start:" >&2; cat "$work/node$i.log" >&2; exit 1; }
done

echo "# $(date -u +%FT%TZ) $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $size nodes (pids ${pids[*]}) on PostgreSQL at $servers" >&2
for w in ${CLUSTER_WORKLOADS:-direct group}; do
  for run in $(seq 1 "${RUNS:-2}"); do
    echo "# chat bench $w --server $servers ${BENCH_FLAGS:-} (run $run)" >&2
    "$chat" bench "$w" --server "$servers" --json ${BENCH_FLAGS:-} | tail -n 1
  done
done
