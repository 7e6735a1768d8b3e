#!/usr/bin/env bash
# What the REST path costs over the cheapest HTTP answer, from outside the
# process: `keygate serve --demo` on the memory store, driven by one load
# tool at a time, in alternating rounds (ABBA) of
#   GET /healthz                        (no credential, no gateway)
#   GET /api/v1/me with the demo API key (gateway, interceptors, WhoAmI)
# on the same HTTP listener. Prints requests/s per round and the ratio
# me/healthz of the totals.
#
# Settings (environment):
#   KEYGATE=…          a keygate binary to measure; default: built from here
#   TOOL=wrk|hey       load tool (default: wrk when installed, else hey)
#   ROUNDS=4           rounds of each (even: ABBA)
#   DURATION=5s        per round
#   CONCURRENCY=16     connections
#
# wrk comes from the system (apt-get install wrk); hey is installed with
# `go install` into bench/.bin when missing, as bench/load.sh does.
set -euo pipefail

HEY_VERSION=v0.1.4
ROUNDS=${ROUNDS:-4}
DURATION=${DURATION:-5s}
CONCURRENCY=${CONCURRENCY:-16}

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
BIN=$ROOT/bench/.bin
log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'rest.sh: %s\n' "$*" >&2; exit 1; }

TOOL=${TOOL:-$(command -v wrk >/dev/null && echo wrk || echo hey)}
if [ "$TOOL" = hey ] && [ "$(cat "$BIN/hey.version" 2>/dev/null)" != "$HEY_VERSION" ]; then
  mkdir -p "$BIN"
  GOBIN=$BIN go install "github.com/rakyll/hey@$HEY_VERSION"
  echo "$HEY_VERSION" >"$BIN/hey.version"
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/keygate-rest.XXXXXX")
PID=
cleanup() {
  local status=$?
  if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then
    kill -TERM "$PID" 2>/dev/null || true
    wait "$PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
  exit "$status"
}
trap cleanup EXIT

if [ -z "${KEYGATE:-}" ]; then
  log "building keygate"
  go build -o "$WORK/keygate" ./cmd/keygate
  KEYGATE=$WORK/keygate
fi
"$KEYGATE" serve --demo --grpc-addr 127.0.0.1:0 --http-addr 127.0.0.1:0 >"$WORK/out" 2>"$WORK/log" &
PID=$!
KEY= HTTP_ADDR=
for _ in $(seq 300); do
  kill -0 "$PID" 2>/dev/null || { cat "$WORK/log" >&2; die "keygate exited"; }
  KEY=$(awk '/API key/ { print $3; exit }' "$WORK/out")
  HTTP_ADDR=$(grep -o 'http listening on [0-9.:]*' "$WORK/log" | head -1 | cut -d' ' -f4 || true)
  [ -n "$KEY" ] && [ -n "$HTTP_ADDR" ] && break
  sleep 0.1
done
[ -n "$KEY" ] && [ -n "$HTTP_ADDR" ] || die "keygate printed no demo key or address"
BASE=http://$HTTP_ADDR
code=$(curl -s -o /dev/null -w '%{http_code}' -H "user-api-key: $KEY" "$BASE/api/v1/me")
[ "$code" = 200 ] || die "GET /api/v1/me answered $code, want 200"

# run NAME PATH [HEADER]: one round; prints requests/s.
run() {
  local args=()
  [ -n "${3:-}" ] && args=(-H "$3")
  if [ "$TOOL" = wrk ]; then
    wrk -t2 -c"$CONCURRENCY" -d"$DURATION" "${args[@]}" "$BASE$2" | awk '/Requests\/sec:/ { print $2 }'
  else
    "$BIN/hey" -z "$DURATION" -c "$CONCURRENCY" "${args[@]}" "$BASE$2" | awk '/Requests\/sec:/ { print $2 }'
  fi
}

log "warm-up"
DURATION=2s run healthz /healthz >/dev/null
DURATION=2s run me /api/v1/me "user-api-key: $KEY" >/dev/null
total_h=0 total_m=0
for i in $(seq "$ROUNDS"); do
  if [ $((i % 2)) = 1 ]; then order="h m"; else order="m h"; fi
  for which in $order; do
    if [ "$which" = h ]; then
      rps=$(run healthz /healthz); total_h=$(echo "$total_h + $rps" | bc -l)
      log "round $i: /healthz $rps req/s"
    else
      rps=$(run me /api/v1/me "user-api-key: $KEY"); total_m=$(echo "$total_m + $rps" | bc -l)
      log "round $i: /api/v1/me $rps req/s"
    fi
  done
done
printf 'tool %s, %s connections, %s rounds of %s each\n' "$TOOL" "$CONCURRENCY" "$ROUNDS" "$DURATION"
printf '/healthz    %.0f req/s\n' "$(echo "$total_h / $ROUNDS" | bc -l)"
printf '/api/v1/me  %.0f req/s\n' "$(echo "$total_m / $ROUNDS" | bc -l)"
printf 'me/healthz  %.3f\n' "$(echo "$total_m / $total_h" | bc -l)"
