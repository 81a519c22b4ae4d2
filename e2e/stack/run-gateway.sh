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

(cd "$ROOT" && cargo build --release --locked -p webhook-gateway -p webhook-operator)
GATEWAY=$CARGO_TARGET_DIR/release/webhook-gateway
OPERATOR=$CARGO_TARGET_DIR/release/webhook-operator

# Signing secrets are sealed at rest; the local stack keeps its sealing key beside its data.
KEY_FILE=${WHGW_STACK_DIR:-/tmp/webhook-gateway-stack}/sealing-key
[[ -s $KEY_FILE ]] || (umask 077 && "$GATEWAY" generate-sealing-key --id local >"$KEY_FILE")
WEBHOOK_GATEWAY_SEALING_KEYS=$(cat "$KEY_FILE")
export WEBHOOK_GATEWAY_SEALING_KEYS
export SERVER_ADDRESS=127.0.0.1 SERVER_PORT=$PORT
export WEBHOOK_GATEWAY_PUBLIC_URL=${WEBHOOK_GATEWAY_PUBLIC_URL:-http://127.0.0.1:$PORT}

# The example Webhook resources, written into the local database the way the operator writes
# them in a cluster (file mode; rerunning changes only what changed).
echo
"$OPERATOR" apply -f "$ROOT/examples/local/"
URL=$WEBHOOK_GATEWAY_PUBLIC_URL/webhooks
cat <<EOF2

Try them (keys and secrets are in examples/local/webhooks.yaml):
  curl -i -X POST $URL/orders-created -H 'Content-Type: application/json' \\
    -H 'X-API-Key: whk_local-orders-created-demo-key' --data-binary @$ROOT/examples/calls/order-created.json
  BODY='{"ref":"refs/heads/main"}'; curl -i -X POST $URL/github-push -H 'Content-Type: application/json' \\
    -H "X-Hub-Signature-256: sha256=\$(printf %s "\$BODY" | openssl dgst -sha256 -hmac local-github-demo-secret -r | cut -d' ' -f1)" -d "\$BODY"

EOF2

broker=${SPRING_KAFKA_BOOTSTRAP_SERVERS%%,*}
cat <<EOF2
Records go to topic $KAFKA_TOPIC_PROCESS_START_OUT; read them with
  $WHGW_TANSU_BIN cat consume $KAFKA_TOPIC_PROCESS_START_OUT --broker tcp://$broker
Health: curl http://127.0.0.1:$PORT/actuator/health    Stop the stack: e2e/stack/down.sh

EOF2
exec "$GATEWAY"
