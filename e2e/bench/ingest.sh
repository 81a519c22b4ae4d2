#!/usr/bin/env bash
# Ingest load benchmark: puts the gateway's throughput, latency and memory next to the
# ceilings it cannot beat (a no-op actix-web server and a direct Kafka producer), all measured
# in the same run on the same machine, and prints them as a table. Not a test: it fails only
# when something cannot be measured.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
# Port picking, tcp_open, die and STACK_DIR come from the stack's helpers.
# shellcheck source=../stack/lib.sh
source "$ROOT/e2e/stack/lib.sh"

DURATION=${BENCH_SECONDS:-15}
CONNECTIONS=${BENCH_CONNECTIONS:-64}
WARMUP_SECONDS=2
AUTH=${BENCH_AUTH:-api-key}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/opt/webhook-gateway/target}
BIN=$CARGO_TARGET_DIR/release
OHA_ROOT=/opt/webhook-gateway/oha
OHA=$OHA_ROOT/bin/oha

[[ $DURATION =~ ^[1-9][0-9]*$ ]] || die "BENCH_SECONDS must be a whole number of seconds, not '$DURATION'"
[[ $CONNECTIONS =~ ^[1-9][0-9]*$ ]] || die "BENCH_CONNECTIONS must be a positive number, not '$CONNECTIONS'"
case $AUTH in
  api-key) ;;
  *) die "BENCH_AUTH=$AUTH is not supported yet (supported: api-key)" ;;
esac

log() { printf '[bench %s] %s\n' "$(date +%T)" "$*" >&2; }

# --- clean-up of everything this run starts ---------------------------------

WORK=$(mktemp -d /tmp/webhook-gateway-bench.XXXXXX)
started_stack=0 noop_pid='' gateway_pid='' topic='' webhook_id=''

stop_pid() {
  local pid=$1
  [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in {1..100}; do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
}

cleanup() {
  local status=$?
  set +e
  stop_pid "$noop_pid"
  stop_pid "$gateway_pid"
  wait 2>/dev/null
  if [[ -n $webhook_id ]]; then
    "$BIN/webhook-gateway" delete "$webhook_id" >/dev/null 2>&1
  fi
  if [[ -n $topic ]]; then
    "$WHGW_TANSU_BIN" topic delete "$topic" --broker "$KAFKA_URL" >/dev/null 2>&1
  fi
  if ((started_stack)); then
    log "stopping the stack this run started"
    "$ROOT/e2e/stack/down.sh" >&2
  fi
  if ((status != 0)) && [[ -s $WORK/gateway.log ]]; then
    printf -- '--- last lines of the gateway log ---\n' >&2
    tail -n 20 "$WORK/gateway.log" >&2
  fi
  rm -rf "$WORK"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- stack, binaries, load generator ----------------------------------------

stack_running() {
  [[ -s $STACK_DIR/env ]] || return 1
  (
    # shellcheck source=/dev/null
    source "$STACK_DIR/env"
    tcp_open "${SPRING_KAFKA_BOOTSTRAP_SERVERS##*:}" &&
      tcp_open "$SPRING_DATA_REDIS_PORT" &&
      tcp_open "$(sed -E 's#.*:([0-9]+)/.*#\1#' <<<"$SPRING_DATASOURCE_URL")"
  )
}

if ! stack_running; then
  log "starting the stack (e2e/stack/up.sh)"
  started_stack=1
  "$ROOT/e2e/stack/up.sh" >&2
fi
# shellcheck source=/dev/null
source "$STACK_DIR/env"
KAFKA_URL=tcp://$SPRING_KAFKA_BOOTSTRAP_SERVERS

log "building release binaries"
(cd "$ROOT" && cargo build --release -p webhook-gateway -p webhook-gateway-bench)

if [[ ! -x $OHA ]]; then
  log "installing oha into $OHA_ROOT (a few minutes, once per machine)"
  cargo install oha --locked --root "$OHA_ROOT"
fi
if ! command -v jq >/dev/null; then
  log "installing jq"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q jq >/dev/null
fi

# oha renamed its JSON switch: older releases have -j, newer ones --output-format json.
if "$OHA" --help | grep -q -- '--output-format'; then
  OHA_JSON=(--output-format json)
else
  OHA_JSON=(-j)
fi
# Without it, requests still in flight at the deadline are cut off and counted as errors.
OHA_WAIT=()
if "$OHA" --help | grep -q -- '--wait-ongoing-requests-after-deadline'; then
  OHA_WAIT=(-w)
fi

# --- the run's own topic, webhook and body ----------------------------------

run_id=$(date +%s)-$$
topic=webhook-gateway-bench-$run_id
"$WHGW_TANSU_BIN" topic create "$topic" --broker "$KAFKA_URL" --partitions 1 >/dev/null
export KAFKA_TOPIC_PROCESS_START_OUT=$topic

registration=$("$BIN/webhook-gateway" register --id "bench-$run_id" --name "load benchmark" \
  --workspace bench --output json)
webhook_id=bench-$run_id
api_key=$(jq -r .apiKey <<<"$registration")
AUTH_HEADERS=(-H "X-API-Key: $api_key")

# A JSON object of exactly 1 KiB.
printf '{"pad":"%s"}' "$(head -c 1014 /dev/zero | tr '\0' x)" >"$WORK/body.json"

# --- measuring helpers -------------------------------------------------------

# oha_run NAME URL [OHA ARGS...]: POSTs the body to URL and keeps oha's JSON in $WORK/NAME.json.
oha_run() {
  local name=$1 url=$2
  shift 2
  "$OHA" --no-tui "${OHA_JSON[@]}" "${OHA_WAIT[@]}" -m POST -D "$WORK/body.json" \
    -H 'Content-Type: application/json' "$@" "$url" >"$WORK/$name.json"
}

# Seconds to milliseconds, one decimal.
ms() { jq -r "$1 * 1000 * 10 | round / 10" "$2"; }

wait_ready() {
  local url=$1 pid=$2
  for _ in {1..300}; do
    kill -0 "$pid" 2>/dev/null || die "the server for $url exited during start-up"
    curl -fsS -o /dev/null "$url" 2>/dev/null && return 0
    sleep 0.1
  done
  die "$url did not answer within 30 s"
}

mib() { awk -v kb="$(awk -v k="$1:" '$1 == k {print $2}' "/proc/$2/status")" 'BEGIN {printf "%d", kb / 1024 + 0.5}'; }

# --- a. no-op HTTP ceiling ----------------------------------------------------

noop_port=$(pick_port 18080)
"$BIN/bench-noop-server" --port "$noop_port" >"$WORK/noop.log" 2>&1 &
noop_pid=$!
# Any answer, even 404 on GET, shows the server is listening.
for _ in {1..100}; do tcp_open "$noop_port" && break; sleep 0.1; done
tcp_open "$noop_port" || die "the no-op server did not start"
noop_url=http://127.0.0.1:$noop_port/webhooks/bench

log "a. no-op server, $CONNECTIONS connections, ${DURATION}s"
oha_run warmup "$noop_url" -c "$CONNECTIONS" -z "${WARMUP_SECONDS}s"
oha_run noop "$noop_url" -c "$CONNECTIONS" -z "${DURATION}s"
stop_pid "$noop_pid"
noop_pid=''

# --- b. gateway at max load ----------------------------------------------------

gateway_port=$(pick_port 18090)
SERVER_ADDRESS=127.0.0.1 SERVER_PORT=$gateway_port WEBHOOK_GATEWAY_SHUTDOWN_DELAY_MS=0 \
  LOGGING_LEVEL_APP=WARN LOGGING_LEVEL_ROOT=WARN \
  "$BIN/webhook-gateway" >"$WORK/gateway.log" 2>&1 &
gateway_pid=$!
wait_ready "http://127.0.0.1:$gateway_port/actuator/health/readiness" "$gateway_pid"
sleep 1 # let start-up allocations settle before reading the idle RSS
rss_idle=$(mib VmRSS "$gateway_pid")
gateway_url=http://127.0.0.1:$gateway_port/webhooks/$webhook_id

log "b. gateway, $CONNECTIONS connections, ${DURATION}s"
# The warm-up also waits out the producer id and fills the registration cache.
oha_run warmup "$gateway_url" "${AUTH_HEADERS[@]}" -c "$CONNECTIONS" -z "${WARMUP_SECONDS}s"
oha_run gateway "$gateway_url" "${AUTH_HEADERS[@]}" -c "$CONNECTIONS" -z "${DURATION}s"

# --- c. direct producer at max --------------------------------------------------

log "c. direct producer, 64 in flight, ${DURATION}s"
"$BIN/bench-direct-producer" --max --concurrency 64 --seconds "$DURATION" >"$WORK/producer-max.json"

# --- d. both at half the gateway's peak ----------------------------------------

half=$(jq -r '.summary.requestsPerSec / 2 | floor' "$WORK/gateway.json")
((half > 0)) || die "the gateway accepted nothing at max load"
log "d. gateway and direct producer at $half/s, ${DURATION}s each"
oha_run gateway-half "$gateway_url" "${AUTH_HEADERS[@]}" -c "$CONNECTIONS" -q "$half" -z "${DURATION}s"
"$BIN/bench-direct-producer" --rate "$half" --seconds "$DURATION" >"$WORK/producer-half.json"

# --- e. peak RSS, then the report -------------------------------------------------

rss_peak=$(mib VmHWM "$gateway_pid")

non_202() { jq -r '[.statusCodeDistribution | to_entries[] | select(.key != "202") | .value] | add // 0' "$1"; }
errors() { jq -r '[.errorDistribution // {} | to_entries[] | .value] | add // 0' "$1"; }
rps() { jq -r '.summary.requestsPerSec | round' "$1"; }

noop_rps=$(rps "$WORK/noop.json")
gateway_rps=$(rps "$WORK/gateway.json")
gateway_half_p50=$(ms '.latencyPercentiles.p50' "$WORK/gateway-half.json")
gateway_half_p99=$(ms '.latencyPercentiles.p99' "$WORK/gateway-half.json")
producer_half_p50=$(jq -r .p50_ms "$WORK/producer-half.json")
producer_half_p99=$(jq -r .p99_ms "$WORK/producer-half.json")

for run in gateway gateway-half; do
  bad=$(non_202 "$WORK/$run.json") failed=$(errors "$WORK/$run.json")
  if ((bad + failed > 0)); then
    log "warning: $run: $bad non-202 answers, $failed failed requests:" \
      "$(jq -c '{statusCodeDistribution, errorDistribution}' "$WORK/$run.json")"
  fi
done
for run in producer-max producer-half; do
  failed=$(jq -r .errors "$WORK/$run.json")
  ((failed == 0)) || log "warning: $run: $failed records not acknowledged"
done

echo
printf 'ingest benchmark (1 KiB JSON, %s, acks=all)   machine: %s cores   %ss per run, %s connections\n' \
  "$AUTH" "$(nproc)" "$DURATION" "$CONNECTIONS"
printf '%-24s %6s req/s   p50 %s ms  p99 %s ms\n' "no-op HTTP ceiling" "$noop_rps" \
  "$(ms '.latencyPercentiles.p50' "$WORK/noop.json")" "$(ms '.latencyPercentiles.p99' "$WORK/noop.json")"
printf '%-24s %6s req/s   p50 %s ms  p99 %s ms   non-202 %s   (%s × ceiling; target ≥ 0.5)\n' \
  "gateway (peak)" "$gateway_rps" \
  "$(ms '.latencyPercentiles.p50' "$WORK/gateway.json")" "$(ms '.latencyPercentiles.p99' "$WORK/gateway.json")" \
  "$(($(non_202 "$WORK/gateway.json") + $(errors "$WORK/gateway.json")))" \
  "$(awk -v g="$gateway_rps" -v n="$noop_rps" 'BEGIN {printf "%.2f", g / n}')"
printf '%-24s %6s rec/s\n' "direct producer (peak)" "$(jq -r '.records_per_sec | round' "$WORK/producer-max.json")"
printf '%-24s gateway p50 %s / p99 %s ms   producer p50 %s / p99 %s ms   (p99 diff %s ms; target ≤ 5)\n' \
  "at half peak ($half/s)" "$gateway_half_p50" "$gateway_half_p99" "$producer_half_p50" "$producer_half_p99" \
  "$(awk -v g="$gateway_half_p99" -v p="$producer_half_p99" 'BEGIN {printf "%.1f", g - p}')"
printf '%-24s idle %s MiB   peak %s MiB   (targets ≤ 64 / ≤ 256)\n' "gateway RSS" "$rss_idle" "$rss_peak"
log "done in ${SECONDS}s"
