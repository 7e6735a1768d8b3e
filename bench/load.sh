#!/usr/bin/env bash
# Load test of keygate on PostgreSQL, on loopback.
#
# Builds keygate and bench/seed, creates a fresh database (dropped at exit),
# migrates it, seeds one user with an active subscription, one property and
# KEYS API keys (one of them withdrawn), starts `keygate serve` on free
# ports, and drives it with ghz (gRPC) and hey (REST). Each scenario gets a
# warm-up, then a measured run of DURATION at CONCURRENCY callers. Prints
# requests/s, p50 and p99 per scenario, and ratios measured in this run.
#
# Settings (environment):
#   KEYS=100000         API keys to store
#   DURATION=10s        measured run per scenario
#   WARMUP=3s           warm-up per scenario (not counted)
#   CONCURRENCY=16      concurrent callers
#   ADMIN_URL=…         a PostgreSQL URL through which databases can be created
#                       and dropped; default: $KEYGATE_TEST_DATABASE_URL, else
#                       postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable
#
# Needs Go, curl, jq and column. ghz and hey are installed with `go install`
# into bench/.bin when missing (pinned versions below).
set -euo pipefail

GHZ_VERSION=v0.120.0
HEY_VERSION=v0.1.4

KEYS=${KEYS:-100000}
DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-3s}
CONCURRENCY=${CONCURRENCY:-16}
ADMIN_URL=${ADMIN_URL:-${KEYGATE_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable}}

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
BIN=$ROOT/bench/.bin

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'load.sh: %s\n' "$*" >&2; exit 1; }

for tool in go curl jq column; do
  command -v "$tool" >/dev/null || die "$tool is required"
done

# --- clean-up: keygate, the database, the work directory ------------------
WORK=$(mktemp -d "${TMPDIR:-/tmp}/keygate-load.XXXXXX")
KEYGATE_PID=
DB_NAME=
cleanup() {
  local status=$?
  if [ -n "$KEYGATE_PID" ] && kill -0 "$KEYGATE_PID" 2>/dev/null; then
    kill -TERM "$KEYGATE_PID" 2>/dev/null || true
    wait "$KEYGATE_PID" 2>/dev/null || true
  fi
  if [ -n "$DB_NAME" ]; then
    "$WORK/seed" -admin-url "$ADMIN_URL" -drop-database "$DB_NAME" ||
      echo "load.sh: could not drop database $DB_NAME" >&2
  fi
  rm -rf "$WORK"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- tools -----------------------------------------------------------------
mkdir -p "$BIN"
# install_tool NAME MODULE_PATH VERSION: go install into $BIN unless that version
# is there already (a stamp file records it: go install embeds no version).
install_tool() {
  if [ -x "$BIN/$1" ] && [ "$(cat "$BIN/$1.version" 2>/dev/null)" = "$3" ]; then
    return
  fi
  log "installing $1 $3 into $BIN"
  GOBIN=$BIN go install "$2@$3"
  echo "$3" >"$BIN/$1.version"
}
install_tool ghz github.com/bojand/ghz/cmd/ghz "$GHZ_VERSION"
install_tool hey github.com/rakyll/hey "$HEY_VERSION"

log "building keygate and bench/seed"
go build -o "$WORK/keygate" ./cmd/keygate
go build -o "$WORK/seed" ./bench/seed

# --- database --------------------------------------------------------------
name="keygate_bench_$(date +%s)_$$"
DB_URL=$("$WORK/seed" -admin-url "$ADMIN_URL" -create-database "$name")
DB_NAME=$name
log "database $DB_NAME"
"$WORK/keygate" migrate --database-url "$DB_URL"
log "seeding $KEYS API keys"
"$WORK/seed" -database-url "$DB_URL" -keys "$KEYS" >"$WORK/seed.env"
PROPERTY_ID= ACTIVE_KEY= REVOKED_KEY=
while IFS='=' read -r k v; do
  case $k in
    PROPERTY_ID) PROPERTY_ID=$v ;;
    ACTIVE_KEY) ACTIVE_KEY=$v ;;
    REVOKED_KEY) REVOKED_KEY=$v ;;
  esac
done <"$WORK/seed.env"
[ -n "$PROPERTY_ID" ] && [ -n "$ACTIVE_KEY" ] && [ -n "$REVOKED_KEY" ] || die "seed printed no key or property"

# --- keygate ---------------------------------------------------------------
"$WORK/keygate" serve --database-url "$DB_URL" --grpc-addr 127.0.0.1:0 --http-addr 127.0.0.1:0 \
  >"$WORK/keygate.out" 2>"$WORK/keygate.log" &
KEYGATE_PID=$!
GRPC_ADDR= HTTP_ADDR=
for _ in $(seq 300); do
  kill -0 "$KEYGATE_PID" 2>/dev/null || { cat "$WORK/keygate.log" >&2; die "keygate exited"; }
  GRPC_ADDR=$(grep -o 'grpc listening on [0-9.:]*' "$WORK/keygate.log" | head -1 | cut -d' ' -f4 || true)
  HTTP_ADDR=$(grep -o 'http listening on [0-9.:]*' "$WORK/keygate.log" | head -1 | cut -d' ' -f4 || true)
  [ -n "$GRPC_ADDR" ] && [ -n "$HTTP_ADDR" ] && break
  sleep 0.1
done
[ -n "$GRPC_ADDR" ] && [ -n "$HTTP_ADDR" ] || die "keygate did not log its addresses"
for _ in $(seq 100); do
  curl -fsS -o /dev/null "http://$HTTP_ADDR/readyz" && break
  sleep 0.1
done
log "keygate (pid $KEYGATE_PID): gRPC $GRPC_ADDR, REST $HTTP_ADDR"

REST_URL=http://$HTTP_ADDR/api/v1/properties/$PROPERTY_ID
code=$(curl -s -o /dev/null -w '%{http_code}' -H "user-api-key: $ACTIVE_KEY" "$REST_URL")
[ "$code" = 200 ] || die "GET with the active key answered $code, want 200"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "user-api-key: $REVOKED_KEY" "$REST_URL")
[ "$code" = 401 ] || die "GET with the withdrawn key answered $code, want 401"

# --- scenarios -------------------------------------------------------------
# Each writes one line to $WORK/results: name|requests|rps|p50 ms|p99 ms|statuses
: >"$WORK/results"
unexpected=0

# grpc_scenario NAME EXPECTED_STATUS CALL DATA METADATA
grpc_scenario() {
  local name=$1 want=$2 call=$3 data=$4 md=$5 out=$WORK/ghz.json
  local args=(--insecure --call "$call" -d "$data" -m "$md" -c "$CONCURRENCY"
    --duration-stop=ignore --count-errors --connect-timeout=10s)
  log "$name: warm-up $WARMUP, then $DURATION"
  "$BIN/ghz" "${args[@]}" -z "$WARMUP" -O json -o "$WORK/warmup.json" "$GRPC_ADDR"
  "$BIN/ghz" "${args[@]}" -z "$DURATION" -O json -o "$out" "$GRPC_ADDR"
  jq -r --arg name "$name" '
    def ms(p): ((.latencyDistribution // [])[] | select(.percentage == p) | .latency / 1e6) // 0;
    [$name, .count, .rps, ms(50), ms(99),
     (.statusCodeDistribution | to_entries | map("\(.key)=\(.value)") | join(","))] | join("|")' "$out" |
    awk -F'|' '{ printf "%s|%d|%.0f|%.3f|%.3f|%s\n", $1, $2, $3, $4, $5, $6 }' >>"$WORK/results"
  check_statuses "$name" "$want"
}

# rest_scenario NAME EXPECTED_STATUS KEY
rest_scenario() {
  local name=$1 want=$2 key=$3 out=$WORK/hey.txt
  log "$name: warm-up $WARMUP, then $DURATION"
  "$BIN/hey" -z "$WARMUP" -c "$CONCURRENCY" -H "user-api-key: $key" "$REST_URL" >/dev/null
  "$BIN/hey" -z "$DURATION" -c "$CONCURRENCY" -H "user-api-key: $key" "$REST_URL" >"$out"
  awk -v name="$name" '
    /Requests\/sec:/ { rps = $2 }
    $1 == "50%" && $2 == "in" { p50 = $3 * 1000 }
    $1 == "99%" && $2 == "in" { p99 = $3 * 1000 }
    /^ *\[[0-9]+\]/ { gsub(/[\[\]]/, "", $1); n += $2; st = st (st == "" ? "" : ",") $1 "=" $2 }
    END { printf "%s|%d|%.0f|%.3f|%.3f|%s\n", name, n, rps, p50, p99, st }' "$out" >>"$WORK/results"
  if grep -q 'Error distribution' "$out"; then
    sed -n '/Error distribution/,$p' "$out" >&2
  fi
  check_statuses "$name" "$want"
}

# check_statuses NAME WANT: warns when the last result has any other status.
check_statuses() {
  local statuses
  statuses=$(tail -1 "$WORK/results" | cut -d'|' -f6)
  if [ "$statuses" != "$2=$(tail -1 "$WORK/results" | cut -d'|' -f2)" ]; then
    echo "WARNING: $1: statuses $statuses, expected only $2" >&2
    unexpected=1
  fi
}

GET=keygate.v1.PropertyService/GetProperty
grpc_scenario "gRPC Health/Check (no credential)" OK grpc.health.v1.Health/Check '{}' '{}'
grpc_scenario "gRPC WhoAmI, API key" OK keygate.v1.AuthService/WhoAmI '{}' "{\"user-api-key\":\"$ACTIVE_KEY\"}"
grpc_scenario "gRPC GetProperty, API key" OK "$GET" "{\"id\":\"$PROPERTY_ID\"}" "{\"user-api-key\":\"$ACTIVE_KEY\"}"
grpc_scenario "gRPC GetProperty, withdrawn key" Unauthenticated "$GET" "{\"id\":\"$PROPERTY_ID\"}" "{\"user-api-key\":\"$REVOKED_KEY\"}"
rest_scenario "REST GET property, API key" 200 "$ACTIVE_KEY"
rest_scenario "REST GET property, withdrawn key" 401 "$REVOKED_KEY"

# --- stop keygate ------------------------------------------------------------
kill -TERM "$KEYGATE_PID"
keygate_status=0
wait "$KEYGATE_PID" || keygate_status=$?
KEYGATE_PID=
[ "$keygate_status" = 0 ] || { tail -20 "$WORK/keygate.log" >&2; die "keygate exited $keygate_status after SIGTERM"; }

# --- report ----------------------------------------------------------------
cpu=$(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ *//' || true)
echo
echo "keygate load test: $KEYS stored keys, $CONCURRENCY callers, $DURATION per scenario after $WARMUP warm-up"
echo "machine: $(nproc) cores${cpu:+, $cpu}; $(go version | cut -d' ' -f3); ghz $GHZ_VERSION, hey $HEY_VERSION; all on 127.0.0.1"
echo
{
  echo "scenario|requests|req/s|p50 ms|p99 ms|statuses"
  cat "$WORK/results"
} | column -t -s'|'
echo
rps() { awk -F'|' -v n="$1" '$1 == n { print $3 }' "$WORK/results"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print "n/a" }'; }
echo "ratios (this run):"
echo "  gRPC GetProperty / gRPC health check, req/s:  $(ratio "$(rps "gRPC GetProperty, API key")" "$(rps "gRPC Health/Check (no credential)")")"
echo "  gRPC WhoAmI / gRPC health check, req/s:       $(ratio "$(rps "gRPC WhoAmI, API key")" "$(rps "gRPC Health/Check (no credential)")")"
echo "  REST GetProperty / gRPC GetProperty, req/s:   $(ratio "$(rps "REST GET property, API key")" "$(rps "gRPC GetProperty, API key")")"
echo "  withdrawn / valid key, gRPC req/s:            $(ratio "$(rps "gRPC GetProperty, withdrawn key")" "$(rps "gRPC GetProperty, API key")")"
echo "  withdrawn / valid key, REST req/s:            $(ratio "$(rps "REST GET property, withdrawn key")" "$(rps "REST GET property, API key")")"
echo "keygate stopped with SIGTERM (exit 0)"
[ "$unexpected" = 0 ] || die "some responses had unexpected statuses (see warnings above)"
