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

# Signing secrets are sealed at rest; the local stack keeps its sealing key beside its data.
KEY_FILE=${WHGW_STACK_DIR:-/tmp/webhook-gateway-stack}/sealing-key
[[ -s $KEY_FILE ]] || (umask 077 && "$GATEWAY" generate-sealing-key --id local >"$KEY_FILE")
WEBHOOK_GATEWAY_SEALING_KEYS=$(cat "$KEY_FILE")
export WEBHOOK_GATEWAY_SEALING_KEYS
export SERVER_ADDRESS=127.0.0.1 SERVER_PORT=$PORT
export WEBHOOK_GATEWAY_PUBLIC_URL=${WEBHOOK_GATEWAY_PUBLIC_URL:-http://127.0.0.1:$PORT}

# Each example: id, display name, workspace, process start event, auth scheme. A fresh key or
# secret is issued on every run, since one is only ever shown once.
EXAMPLES=(
  "orders-created|Orders created|workspace-sales|order_created|api-key"
  "payments-settled|Payments settled|workspace-finance|payment_settled|api-key"
  "github-push|GitHub pushes|workspace-dev|code_pushed|github"
)
echo
for example in "${EXAMPLES[@]}"; do
  IFS='|' read -r id name workspace event auth <<<"$example"
  "$GATEWAY" register --id "$id" --name "$name" --workspace "$workspace" \
    --organization local-org --start-event "$event" --auth "$auth" --new-secret
  echo
done
echo "Signed example (github-push): SECRET=<its secret>; BODY='{\"ref\":\"main\"}'"
echo "  curl -i -X POST http://127.0.0.1:$PORT/webhooks/github-push -H 'Content-Type: application/json' \\"
echo "    -H \"X-Hub-Signature-256: sha256=\$(printf %s \"\$BODY\" | openssl dgst -sha256 -hmac \"\$SECRET\" -r | cut -d' ' -f1)\" -d \"\$BODY\""
echo

broker=${SPRING_KAFKA_BOOTSTRAP_SERVERS%%,*}
cat <<EOF2
Records go to topic $KAFKA_TOPIC_PROCESS_START_OUT; read them with
  $WHGW_TANSU_BIN cat consume $KAFKA_TOPIC_PROCESS_START_OUT --broker tcp://$broker
Health: curl http://127.0.0.1:$PORT/actuator/health    Stop the stack: e2e/stack/down.sh

EOF2
exec "$GATEWAY"
