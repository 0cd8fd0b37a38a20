#!/usr/bin/env bash
# Runs workloads (default: media) against a fresh node whose media store is S3-compatible: a throwaway s3rver on
# loopback (installed with npm into ~/.cache/chat-tests, as the tests do), one bucket, the node configured with
# chat.media.store = s3. Prints what bench/run.sh prints. Bounded: s3rver and the node stop when it ends.
#   bench/s3.sh           # media twice
#   bench/s3.sh media direct
set -euo pipefail
cd "$(dirname "$0")/.."
version=3.7.1
home=${CHAT_TEST_CACHE:-$HOME/.cache/chat-tests}/s3rver-$version
script=$home/node_modules/s3rver/bin/s3rver.js
if [ ! -f "$script" ]; then
  mkdir -p "$home"
  npm install --no-audit --no-fund --no-save --prefix "$home" "s3rver@$version" >/dev/null
fi
dir=$(mktemp -d)
conf=$(mktemp --suffix=.conf)
out=$(mktemp)
node "$script" -d "$dir" -a 127.0.0.1 -p 0 -s --configure-bucket chat-media >"$out" 2>&1 &
s3pid=$!
cleanup() { kill "$s3pid" 2>/dev/null || true; wait "$s3pid" 2>/dev/null || true; rm -rf "$dir" "$conf" "$out"; }
trap cleanup EXIT
for _ in $(seq 1 60); do grep -q 'S3rver listening' "$out" && break; sleep 0.5; done
port=$(grep -o 'listening on [^ ]*' "$out" | awk -F: '{print $2}')
[ -n "$port" ] || { echo "s3rver did not start:" >&2; cat "$out" >&2; exit 1; }
cat >"$conf" <<CONF
chat.media.store = s3
chat.media.s3 {
  endpoint = "http://127.0.0.1:$port"
  bucket = chat-media
  force-path-style = on
  access-key = S3RVER
  secret-key = S3RVER
}
CONF
echo "# s3rver $version (pid $s3pid) at 127.0.0.1:$port, bucket chat-media" >&2
[ $# -eq 0 ] && set -- media
NODE_FLAGS="--config $conf ${NODE_FLAGS:-}" bench/run.sh "$@"
