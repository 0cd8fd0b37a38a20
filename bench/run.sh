#!/usr/bin/env bash
# Starts a fresh node on a temporary data directory (loopback, a free port), runs every workload
# twice with its defaults, and prints one JSON line per run. Bounded: each run stops by itself.
#   bench/run.sh                 # all workloads
#   bench/run.sh direct offline  # some of them
#   bench/run.sh floor           # window 1 and the open loop against bench/tools/FloorServer (nothing stored, no
#                                # actors): the host's floor, to read the node's figures against (not in the default)
# Extra flags for every run can be given in BENCH_FLAGS (e.g. BENCH_FLAGS="--timeout 120"), and for the node
# in NODE_FLAGS (e.g. NODE_FLAGS="--config other.conf").
set -euo pipefail
cd "$(dirname "$0")/.."
workloads=("$@")
[ $# -eq 0 ] && workloads=(direct direct-w1 group offline open connections restart media)

for project in Chat.Node Chat.Cli; do dotnet build -c Release "$project" -v quiet -nologo >/dev/null; done
node=Chat.Node/bin/Release/net10.0/Chat.Node
chat=Chat.Cli/bin/Release/net10.0/chat
data=$(mktemp -d)
log=$(mktemp)
# every bench client connects from 127.0.0.1, and `connections` opens 18,000 of them: past the per-address cap
conf=$(mktemp --suffix=.conf)
echo 'chat.limits.max-connections-per-address = 0' >"$conf"
# the bench registers thousands of users with no phones: phone verification in its test mode (the code comes back to
# the client); never for a node that serves people
echo 'chat.verification.mode = auto' >>"$conf"
# bench clients register thousands of users from one address
echo 'chat.limits.registrations-per-address = 0' >>"$conf"
# bench users send as fast as the node takes them, to users who never wrote back: no send rate, no stranger quota
printf 'chat.limits.sends-per-user = 0\nchat.limits.stranger-inbox-messages = 0\nchat.limits.stranger-inbox-bytes = 0\n' >>"$conf"
ulimit -n 65536 2>/dev/null || true

start_node() {
  : >"$log"
  "$node" --port 0 --data "$data" --config "$conf" ${NODE_FLAGS:-} >"$log" 2>&1 &
  pid=$!
  for _ in $(seq 1 120); do grep -q '^listening on' "$log" && break; sleep 0.5; done
  server=$(grep -m1 '^listening on' "$log" | awk '{print $3}')
  [ -n "$server" ] || { echo "node did not start:" >&2; cat "$log" >&2; exit 1; }
}
pid=""; fpid=""; flog=""
cleanup() {
  for p in $pid $fpid; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  rm -rf "$data" "$log" "$conf" $flog
}
trap cleanup EXIT
# the floor needs no node: one idling beside it would share its cores
for w in "${workloads[@]}"; do [ "$w" = floor ] || { start_node; break; }; done

echo "# $(date -u +%FT%TZ) $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB${pid:+, node pid $pid at $server}" >&2
for w in "${workloads[@]}"; do
  if [ "$w" = restart ]; then
    # 10,000 users with history; the node is stopped and started again on the same data;
    # then every user logs in and syncs: the time until all are served
    for run in 1 2; do
      echo "# chat bench restart --phase prepare --users 10000 --messages 10 --server $server (run $run)" >&2
      "$chat" bench restart --phase prepare --users 10000 --messages 10 --server "$server" --state "$data/accounts-$run.txt" --json | tail -n 1 >&2
      kill "$pid"; wait "$pid" 2>/dev/null || true
      start_node
      echo "# node restarted; chat bench restart --phase check --server $server (run $run)" >&2
      "$chat" bench restart --phase check --server "$server" --server-pid "$pid" --state "$data/accounts-$run.txt" --json ${BENCH_FLAGS:-} | tail -n 1
    done
    continue
  fi
  if [ "$w" = floor ]; then
    dotnet build -c Release bench/tools/FloorServer -v quiet -nologo >/dev/null
    flog=$(mktemp)
    # frames handled on the socket engine's thread: the cheapest way .NET offers, so the lowest floor
    DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS=1 bench/tools/FloorServer/bin/Release/net10.0/FloorServer >"$flog" 2>&1 &
    fpid=$!
    for _ in $(seq 1 100); do grep -q '^listening on' "$flog" && break; sleep 0.1; done
    fserver=$(grep -m1 '^listening on' "$flog" | awk '{print $3}') || true
    [ -n "$fserver" ] || { echo "floor server did not start:" >&2; cat "$flog" >&2; exit 1; }
    for shape in "direct --window 1 --messages 1000" "open --rate 1000 --users 2000 --duration 20" "open --rate 6000 --users 2000 --duration 20"; do
      for run in 1 2; do
        echo "# floor server (pid $fpid): chat bench $shape --server $fserver --server-pid $fpid ${BENCH_FLAGS:-} (run $run)" >&2
        # shellcheck disable=SC2086 # the shape is words
        "$chat" bench $shape --server "$fserver" --server-pid "$fpid" --json ${BENCH_FLAGS:-} | tail -n 1 || true
      done
    done
    kill "$fpid" 2>/dev/null || true; wait "$fpid" 2>/dev/null || true; fpid=""
    continue
  fi
  if [ "$w" = open ]; then
    # open loop: 2,000 users, a fixed timetable at each rate for 20 s. A rate the node cannot keep up with stops
    # early and exits with 1 (stopped_early in the JSON), which must not end the script.
    for rate in 1000 6000; do
      for run in 1 2; do
        args=(open --rate "$rate" --users 2000 --duration 20 --server-pid "$pid")
        echo "# chat bench ${args[*]} --server $server ${BENCH_FLAGS:-} (run $run)" >&2
        "$chat" bench "${args[@]}" --server "$server" --json ${BENCH_FLAGS:-} | tail -n 1 || true
      done
    done
    continue
  fi
  case "$w" in
    direct) args=(direct --server-pid "$pid") ;;
    direct-w1) args=(direct --window 1 --server-pid "$pid") ;;
    group) args=(group --server-pid "$pid") ;;
    connections) args=(connections --connections 18000 --server-pid "$pid") ;;  # the hard open-files limit here is 20,000 per process
    media) args=(media --media-mib 64 --server-pid "$pid") ;;  # a 64 MiB video up and down; the node's peak memory
    *) args=("$w") ;;
  esac
  for run in 1 2; do
    echo "# chat bench ${args[*]} --server $server ${BENCH_FLAGS:-} (run $run)" >&2
    "$chat" bench "${args[@]}" --server "$server" --json ${BENCH_FLAGS:-} | tail -n 1
  done
done
