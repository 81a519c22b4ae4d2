#!/usr/bin/env bash
# Reliability fault suite: starts the local stack in its own state dir (unless it already
# runs there), builds the release binaries once, runs the scenarios of the fault-suite binary
# and stops what it started. Arguments go to fault-suite (e.g. --only broker --rate 200).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
# A state dir of its own, so the suite neither disturbs nor depends on another stack.
export WHGW_STACK_DIR=${WHGW_STACK_DIR:-/tmp/webhook-gateway-fault-stack}
# STACK_DIR, tcp_open and die come from the stack's helpers.
# shellcheck source=../stack/lib.sh
source "$ROOT/e2e/stack/lib.sh"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/opt/webhook-gateway/target}
BIN=$CARGO_TARGET_DIR/release

log() { printf '[faults %s] %s\n' "$(date +%T)" "$*" >&2; }

WORK=$(mktemp -d /tmp/webhook-gateway-faults.XXXXXX)
started_stack=0

cleanup() {
  local status=$?
  set +e
  if ((started_stack)); then
    log "stopping the stack this run started"
    "$ROOT/e2e/stack/down.sh" >&2
  fi
  if ((status == 0)); then
    rm -rf "$WORK"
  else
    log "gateway and service logs kept in $WORK"
  fi
  log "done in ${SECONDS}s"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

stack_running() {
  [[ -s $STACK_DIR/env ]] || return 1
  (
    # shellcheck source=/dev/null
    source "$STACK_DIR/env"
    tcp_open "${SPRING_KAFKA_BOOTSTRAP_SERVERS##*:}" &&
      tcp_open "$SPRING_DATA_REDIS_PORT" &&
      tcp_open "$(sed -E 's#.*:([0-9]+)/.*#\1#' <<<"$SPRING_DATASOURCE_URL")" &&
      tcp_open "$FLOWX_LIB_CASCLIENT_SPICEDB_PORT" &&
      tcp_open "${SECURITY_OAUTH2_BASE_SERVER_URL##*:}"
  )
}

if ! stack_running; then
  log "starting the stack in $STACK_DIR (e2e/stack/up.sh)"
  started_stack=1
  "$ROOT/e2e/stack/up.sh" >&2
fi
# shellcheck source=/dev/null
source "$STACK_DIR/env"

log "building release binaries"
(cd "$ROOT" && cargo build --release -q -p webhook-gateway -p webhook-gateway-faults)

log "running the scenarios (logs in $WORK)"
"$BIN/fault-suite" --gateway-bin "$BIN/webhook-gateway" --work-dir "$WORK" "$@"
