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
# Minutes of steady load at half the peak after the measurements (0: no soak).
SOAK_MINUTES=${BENCH_SOAK_MINUTES:-0}
CONNECTIONS=${BENCH_CONNECTIONS:-64}
WARMUP_SECONDS=2
AUTH=${BENCH_AUTH:-api-key}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/opt/webhook-gateway/target}
BIN=$CARGO_TARGET_DIR/release
OHA_ROOT=/opt/webhook-gateway/oha
OHA=$OHA_ROOT/bin/oha

[[ $DURATION =~ ^[1-9][0-9]*$ ]] || die "BENCH_SECONDS must be a whole number of seconds, not '$DURATION'"
[[ $SOAK_MINUTES =~ ^[0-9]+$ ]] || die "BENCH_SOAK_MINUTES must be a whole number, not '$SOAK_MINUTES'"
[[ $CONNECTIONS =~ ^[1-9][0-9]*$ ]] || die "BENCH_CONNECTIONS must be a positive number, not '$CONNECTIONS'"
case $AUTH in
  api-key | standard-webhooks) ;;
  *) die "BENCH_AUTH must be api-key or standard-webhooks, not '$AUTH'" ;;
esac

psql_admin() { "$WHGW_PG_BIN_DIR/psql" -qAtX -v ON_ERROR_STOP=1 "$WHGW_PG_ADMIN_URL" "$@" >/dev/null; }

log() { printf '[bench %s] %s\n' "$(date +%T)" "$*" >&2; }

# --- clean-up of everything this run starts ---------------------------------

WORK=$(mktemp -d /tmp/webhook-gateway-bench.XXXXXX)
started_stack=0 noop_pid='' gateway_pid='' topic='' database=''

cleanup() {
  local status=$?
  set +e
  stop_pid "$noop_pid"
  stop_pid "$gateway_pid"
  wait 2>/dev/null
  if [[ -n $database ]]; then
    psql_admin -c "DROP DATABASE IF EXISTS $database WITH (FORCE)"
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

# --- the run's own database, topic, webhook and body -------------------------

run_id=$(date +%s)-$$
# A throwaway database: the run leaves no registration behind, and does not depend on the
# schema of the shared one, which may predate the gateway being measured.
database=webhook_gateway_bench_${run_id//-/_}
psql_admin -c "CREATE DATABASE $database OWNER $SPRING_DATASOURCE_USERNAME"
export SPRING_DATASOURCE_URL=${SPRING_DATASOURCE_URL%/*}/$database

topic=webhook-gateway-bench-$run_id
"$WHGW_TANSU_BIN" topic create "$topic" --broker "$KAFKA_URL" --partitions 1 >/dev/null
export KAFKA_TOPIC_PROCESS_START_OUT=$topic

webhook_id=bench-$run_id
registration=$("$BIN/webhook-gateway" register --id "$webhook_id" --name "load benchmark" \
  --workspace bench --output json)
api_key=$(jq -r .apiKey <<<"$registration")
AUTH_HEADERS=(-H "X-API-Key: $api_key")

# A JSON object of exactly 1 KiB.
printf '{"pad":"%s"}' "$(head -c 1014 /dev/zero | tr '\0' x)" >"$WORK/body.json"

# With standard-webhooks, a second webhook verifies a Standard Webhooks signature (HMAC-SHA256
# over id.timestamp.body) on every call, measured beside the API-key one in the same run. oha
# replays one signed request, so duplicate suppression is pointed at a header the load does not
# send; otherwise every call after the first would be answered from the duplicate record.
if [[ $AUTH == standard-webhooks ]]; then
  WEBHOOK_GATEWAY_SEALING_KEYS=$("$BIN/webhook-gateway" generate-sealing-key --id bench)
  export WEBHOOK_GATEWAY_SEALING_KEYS
  secret_bytes=$(head -c 32 /dev/urandom | base64 -w0)
  signed_id=bench-signed-$run_id
  "$BIN/webhook-gateway" register --id "$signed_id" --name "signed load benchmark" --workspace bench \
    --auth standard-webhooks --secret "whsec_$secret_bytes" --tolerance-seconds 3600 \
    --idempotency-header x-bench-not-sent --output json >/dev/null
  timestamp=$(date +%s)
  key_hex=$(base64 -d <<<"$secret_bytes" | od -An -v -tx1 | tr -d ' \n')
  signature=$( { printf '%s.%s.' msg_bench "$timestamp"; cat "$WORK/body.json"; } |
    openssl dgst -sha256 -mac HMAC -macopt "hexkey:$key_hex" -binary | base64 -w0)
  SIGNED_HEADERS=(-H "webhook-id: msg_bench" -H "webhook-timestamp: $timestamp" -H "webhook-signature: v1,$signature")
fi

# --- measuring helpers -------------------------------------------------------

# oha_run NAME URL [OHA ARGS...]: POSTs the body to URL and keeps oha's JSON in $WORK/NAME.json.
oha_run() {
  local name=$1 url=$2
  shift 2
  "$OHA" --no-tui "${OHA_JSON[@]}" "${OHA_WAIT[@]}" -m POST -D "$WORK/body.json" \
    -H 'Content-Type: application/json' "$@" "$url" >"$WORK/$name.json"
}

# oha reports seconds; the table shows milliseconds.
ms() { jq -r "$1 * 1000" "$2"; }

wait_ready() {
  local url=$1 pid=$2
  for _ in {1..300}; do
    kill -0 "$pid" 2>/dev/null || die "the server for $url exited during start-up"
    curl -fsS -o /dev/null "$url" 2>/dev/null && return 0
    sleep 0.1
  done
  die "$url did not answer within 30 s"
}

# Percent of the machine's CPU time spent busy over one second. Taken while this run sends
# nothing, it shows other work on the machine that would skew the figures.
cpu_busy() {
  local before after
  before=$(head -n 1 /proc/stat)
  sleep 1
  after=$(head -n 1 /proc/stat)
  awk -v a="$before" -v b="$after" 'BEGIN {
    split(a, x); split(b, y)
    for (i = 2; i <= 9; i++) { d = y[i] - x[i]; total += d; if (i == 5 || i == 6) idle += d }
    printf "%d", 100 * (total - idle) / total + 0.5
  }'
}

mib() { awk -v kb="$(awk -v k="$1:" '$1 == k {print $2}' "/proc/$2/status")" 'BEGIN {printf "%d", kb / 1024 + 0.5}'; }

# --- a. no-op HTTP ceiling ----------------------------------------------------

busy_before=$(cpu_busy)

noop_port=$(pick_port 18080)
"$BIN/bench-noop-server" --port "$noop_port" >"$WORK/noop.log" 2>&1 &
noop_pid=$!
# It has no readiness endpoint: accepting connections is enough.
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
if [[ $AUTH == standard-webhooks ]]; then
  signed_url=http://127.0.0.1:$gateway_port/webhooks/$signed_id
  log "b'. gateway, standard-webhooks signatures, $CONNECTIONS connections, ${DURATION}s"
  oha_run warmup "$signed_url" "${SIGNED_HEADERS[@]}" -c "$CONNECTIONS" -z "${WARMUP_SECONDS}s"
  oha_run gateway-signed "$signed_url" "${SIGNED_HEADERS[@]}" -c "$CONNECTIONS" -z "${DURATION}s"
fi

# --- c. direct producer at max --------------------------------------------------

log "c. direct producer, 64 in flight, ${DURATION}s"
"$BIN/bench-direct-producer" --max --concurrency 64 --seconds "$DURATION" >"$WORK/producer-max.json"

# --- d. both at half the gateway's peak ----------------------------------------

half=$(jq -r '.summary.requestsPerSec / 2 | floor' "$WORK/gateway.json")
((half > 0)) || die "the gateway accepted nothing at max load"
log "d. gateway and direct producer at $half/s, ${DURATION}s each"
oha_run gateway-half "$gateway_url" "${AUTH_HEADERS[@]}" -c "$CONNECTIONS" -q "$half" -z "${DURATION}s"
"$BIN/bench-direct-producer" --rate "$half" --seconds "$DURATION" >"$WORK/producer-half.json"

# --- soak: minutes of steady load at half the peak -------------------------------

soak_lines=()
for ((minute = 1; minute <= SOAK_MINUTES; minute++)); do
  log "soak minute $minute of $SOAK_MINUTES at $half/s"
  oha_run "soak-$minute" "$gateway_url" "${AUTH_HEADERS[@]}" -c "$CONNECTIONS" -q "$half" -z 60s
  soak_lines+=("$(printf 'minute %2d   %6s req/s   p99 %.1f ms   RSS %s MiB   non-202 %s' "$minute" \
    "$(jq -r '.summary.requestsPerSec | round' "$WORK/soak-$minute.json")" \
    "$(ms '.latencyPercentiles.p99' "$WORK/soak-$minute.json")" "$(mib VmRSS "$gateway_pid")" \
    "$(jq -r '[.statusCodeDistribution | to_entries[] | select(.key != "202") | .value] | add // 0' "$WORK/soak-$minute.json")")")
done

# --- e. peak RSS, then the report -------------------------------------------------

rss_peak=$(mib VmHWM "$gateway_pid")
busy_after=$(cpu_busy)
if ((busy_before > 10 || busy_after > 10)); then
  log "warning: the machine was busy with other work (CPU ${busy_before}% before, ${busy_after}% after); the figures are skewed"
fi

non_202() { jq -r '[.statusCodeDistribution | to_entries[] | select(.key != "202") | .value] | add // 0' "$1"; }
errors() { jq -r '[.errorDistribution // {} | to_entries[] | .value] | add // 0' "$1"; }
rps() { jq -r '.summary.requestsPerSec | round' "$1"; }

noop_rps=$(rps "$WORK/noop.json")
gateway_rps=$(rps "$WORK/gateway.json")
gateway_half_p50=$(ms '.latencyPercentiles.p50' "$WORK/gateway-half.json")
gateway_half_p99=$(ms '.latencyPercentiles.p99' "$WORK/gateway-half.json")
producer_half_p50=$(jq -r .p50_ms "$WORK/producer-half.json")
producer_half_p99=$(jq -r .p99_ms "$WORK/producer-half.json")

runs=(gateway gateway-half)
[[ $AUTH != standard-webhooks ]] || runs+=(gateway-signed)
for run in "${runs[@]}"; do
  bad=$(non_202 "$WORK/$run.json") failed=$(errors "$WORK/$run.json")
  if ((bad + failed > 0)); then
    log "warning: $run: $bad non-202 answers, $failed failed requests:" \
      "$(jq -c '{statusCodeDistribution, errorDistribution}' "$WORK/$run.json")"
  fi
done
# The gateway logs only warnings and errors here, so any line is worth a look.
if [[ -s $WORK/gateway.log ]]; then
  log "warning: the gateway logged $(wc -l <"$WORK/gateway.log") lines; the last ones:"
  tail -n 5 "$WORK/gateway.log" >&2
fi
for run in producer-max producer-half; do
  failed=$(jq -r .errors "$WORK/$run.json")
  ((failed == 0)) || log "warning: $run: $failed records not acknowledged"
done

echo
printf 'ingest benchmark (1 KiB JSON, %s, acks=all)   machine: %s cores   %ss per run, %s connections\n' \
  "$AUTH" "$(nproc)" "$DURATION" "$CONNECTIONS"
printf '%-24s %6s req/s   p50 %.1f ms  p99 %.1f ms\n' "no-op HTTP ceiling" "$noop_rps" \
  "$(ms '.latencyPercentiles.p50' "$WORK/noop.json")" "$(ms '.latencyPercentiles.p99' "$WORK/noop.json")"
printf '%-24s %6s req/s   p50 %.1f ms  p99 %.1f ms   non-202 %s   (%s × ceiling; target ≥ 0.5)\n' \
  "gateway (peak)" "$gateway_rps" \
  "$(ms '.latencyPercentiles.p50' "$WORK/gateway.json")" "$(ms '.latencyPercentiles.p99' "$WORK/gateway.json")" \
  "$(($(non_202 "$WORK/gateway.json") + $(errors "$WORK/gateway.json")))" \
  "$(awk -v g="$gateway_rps" -v n="$noop_rps" 'BEGIN {printf "%.2f", g / n}')"
if [[ $AUTH == standard-webhooks ]]; then
  signed_rps=$(rps "$WORK/gateway-signed.json")
  printf '%-24s %6s req/s   p50 %.1f ms  p99 %.1f ms   non-202 %s   (%s%% below api-key; target < 10%%)\n' \
    "gateway, signed (peak)" "$signed_rps" \
    "$(ms '.latencyPercentiles.p50' "$WORK/gateway-signed.json")" "$(ms '.latencyPercentiles.p99' "$WORK/gateway-signed.json")" \
    "$(($(non_202 "$WORK/gateway-signed.json") + $(errors "$WORK/gateway-signed.json")))" \
    "$(awk -v s="$signed_rps" -v g="$gateway_rps" 'BEGIN {printf "%.1f", (g - s) * 100 / g}')"
fi
printf '%-24s %6s rec/s\n' "direct producer (peak)" "$(jq -r '.records_per_sec | round' "$WORK/producer-max.json")"
printf '%-24s gateway p50 %.1f / p99 %.1f ms   producer p50 %.1f / p99 %.1f ms   (p99 diff %.1f ms; target ≤ 5)\n' \
  "at half peak ($half/s)" "$gateway_half_p50" "$gateway_half_p99" "$producer_half_p50" "$producer_half_p99" \
  "$(jq -n "$gateway_half_p99 - $producer_half_p99")"
printf '%-24s idle %s MiB   peak %s MiB   (targets ≤ 64 / ≤ 256)\n' "gateway RSS" "$rss_idle" "$rss_peak"
printf '%-24s %s%% before   %s%% after   (above 10%% the figures are skewed)\n' "machine CPU busy" "$busy_before" "$busy_after"
if ((SOAK_MINUTES > 0)); then
  printf 'soak at %s/s, first and last minute:\n  %s\n  %s\n' "$half" "${soak_lines[0]}" "${soak_lines[-1]}"
fi
log "done in ${SECONDS}s"
