#!/usr/bin/env bash
# Starts the local stack and the gateway on 127.0.0.1:8080 with the example webhooks registered,
# then prints, for each webhook, its URL and a ready curl line. Ctrl-C stops the gateway; the
# stack keeps running until e2e/stack/down.sh.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/opt/webhook-gateway/target}
PORT=${SERVER_PORT:-8080}

"$HERE/up.sh"
# shellcheck source=/dev/null
source "${WHGW_STACK_DIR:-/tmp/webhook-gateway-stack}/env"

(cd "$ROOT" && cargo build --release --locked -p webhook-gateway)
GATEWAY=$CARGO_TARGET_DIR/release/webhook-gateway

export SERVER_ADDRESS=127.0.0.1 SERVER_PORT=$PORT
export WEBHOOK_GATEWAY_PUBLIC_URL=${WEBHOOK_GATEWAY_PUBLIC_URL:-http://127.0.0.1:$PORT}

# Each example: id, display name, workspace, process start event. A fresh key is issued on
# every run, since a key is only ever shown once.
EXAMPLES=(
  "orders-created|Orders created|workspace-sales|order_created"
  "payments-settled|Payments settled|workspace-finance|payment_settled"
)
echo
for example in "${EXAMPLES[@]}"; do
  IFS='|' read -r id name workspace event <<<"$example"
  "$GATEWAY" register --id "$id" --name "$name" --workspace "$workspace" \
    --organization local-org --start-event "$event" --new-key
  echo
done

broker=${SPRING_KAFKA_BOOTSTRAP_SERVERS%%,*}
cat <<EOF2
Records go to topic $KAFKA_TOPIC_PROCESS_START_OUT; read them with
  $WHGW_TANSU_BIN cat consume $KAFKA_TOPIC_PROCESS_START_OUT --broker tcp://$broker
Health: curl http://127.0.0.1:$PORT/actuator/health    Stop the stack: e2e/stack/down.sh

EOF2
exec "$GATEWAY"
