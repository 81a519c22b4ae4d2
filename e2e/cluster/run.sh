#!/usr/bin/env bash
# The real-cluster suite: installs the chart into a fresh namespace of the cluster KUBECONFIG
# points at, creates a WebhookGateway and an api-key Webhook, sends a webhook through the
# gateway, deletes the Webhook and checks the gateway stops accepting it, then removes
# everything. Builds nothing: the images and the services come from the environment (see
# README.md). Without KUBECONFIG it only says so and succeeds.
set -euo pipefail

if [[ -z ${KUBECONFIG:-} ]]; then
  echo "cluster suite: skipped (KUBECONFIG not set)"
  exit 0
fi

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CHART=$ROOT/charts/webhook-operator
# helm and kubectl as installed by e2e/manifests/validate.sh, when present.
export PATH=/opt/webhook-gateway/k8s-tools/bin:$PATH

need() {
  local name
  for name in "$@"; do
    if [[ -z ${!name:-} ]]; then
      echo "cluster suite: $name must be set (see e2e/cluster/README.md)" >&2
      exit 2
    fi
  done
}
need WHGW_OPERATOR_IMAGE WHGW_GATEWAY_IMAGE WHGW_DATABASE_URL WHGW_DATABASE_PASSWORD \
  WHGW_KAFKA_BOOTSTRAP_SERVERS WHGW_REDIS_HOST
for tool in helm kubectl curl; do
  command -v "$tool" >/dev/null || { echo "cluster suite: $tool not found" >&2; exit 2; }
done

NAMESPACE=${WHGW_NAMESPACE:-whgw-e2e-$(date +%s)-$RANDOM}
RELEASE=webhook-operator
# The examples' gatewayRef names this gateway.
GATEWAY=webhook-gateway
WEBHOOK=e2e-orders
EXAMPLES=$ROOT/examples/kubernetes
# A one-shot consumer pod reads the start topic back (any image with kcat).
KCAT_IMAGE=${WHGW_KCAT_IMAGE:-edenhill/kcat:1.7.1}
TOPIC=${WHGW_KAFKA_TOPIC:-ai.flowx.core.trigger.start-for-event.process.v1}
TIMEOUT=${WHGW_TIMEOUT:-300s}
# How long the gateway may keep answering for a deleted webhook from its caches.
CACHE_SECONDS=${WHGW_CACHE_SECONDS:-120}
LOCAL_PORT=${WHGW_LOCAL_PORT:-18080}
WORK=$(mktemp -d)
forward_pid=''
PASSED=0
FAILED=0

say() { printf '%s\n' "$*"; }
pass() { PASSED=$((PASSED + 1)); say "ok: $*"; }
fail() { FAILED=$((FAILED + 1)); say "FAIL: $*"; }
k() { kubectl --namespace "$NAMESPACE" "$@"; }

# repository:tag -> the two helm values; a registry port is not a tag.
image_values() {
  local prefix=$1 image=$2 repository tag=''
  repository=$image
  if [[ ${image##*/} == *:* ]]; then
    repository=${image%:*}
    tag=${image##*:}
  fi
  printf -- '--set %s.repository=%s --set %s.tag=%s' "$prefix" "$repository" "$prefix" "$tag"
}

cleanup() {
  local status=$?
  set +e
  [[ -n $forward_pid ]] && kill "$forward_pid" 2>/dev/null && wait "$forward_pid" 2>/dev/null
  if [[ ${WHGW_KEEP_NAMESPACE:-} == 1 ]]; then
    say "kept namespace $NAMESPACE"
  else
    # Both kinds carry the operator's finalizers: delete them while the operator still runs,
    # and clear what is left so the namespace can go.
    k delete webhooks --all --wait --timeout=60s >/dev/null 2>&1
    k delete webhookgateways --all --wait --timeout=60s >/dev/null 2>&1
    for name in $(k get webhooks,webhookgateways -o name 2>/dev/null); do
      k patch "$name" --type merge -p '{"metadata":{"finalizers":null}}' >/dev/null 2>&1
    done
    helm uninstall "$RELEASE" --namespace "$NAMESPACE" --wait >/dev/null 2>&1
    kubectl delete namespace "$NAMESPACE" --wait=false >/dev/null 2>&1
  fi
  rm -rf "$WORK"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

post() {
  local key=$1
  curl -s -o "$WORK/body" -w '%{http_code}' --max-time 10 \
    -X POST "http://127.0.0.1:$LOCAL_PORT/webhooks/$WEBHOOK" \
    -H 'Content-Type: application/json' -H "X-API-Key: $key" \
    --data-binary '{"orderId":"e2e-1","total":42}' || echo 000
}

say "cluster suite: namespace $NAMESPACE on $(kubectl config current-context)"

# Helm installs crds/ only when they are missing; apply them so the cluster has the current ones.
kubectl apply --server-side --force-conflicts -f "$CHART/crds/" >/dev/null
pass "CRDs applied"

# shellcheck disable=SC2046  # the image values are several words on purpose
if helm install "$RELEASE" "$CHART" --namespace "$NAMESPACE" --create-namespace \
  $(image_values image "$WHGW_OPERATOR_IMAGE") \
  $(image_values gatewayImage "$WHGW_GATEWAY_IMAGE") \
  --set watchNamespace="$NAMESPACE" --wait --timeout "$TIMEOUT" >"$WORK/helm.log" 2>&1; then
  pass "chart installed, operator rolled out"
else
  fail "chart install"; sed 's/^/    /' "$WORK/helm.log"; exit 1
fi

KEY=e2e-$(head -c 18 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')
k create secret generic e2e-database --from-literal=password="$WHGW_DATABASE_PASSWORD" >/dev/null
k create secret generic e2e-api-key --from-literal=api-key="$KEY" >/dev/null
k create secret generic e2e-sealing \
  --from-literal=keys="e2e:$(head -c 32 /dev/urandom | base64 | tr -d '\n')" >/dev/null
if [[ -n ${WHGW_REDIS_PASSWORD:-} ]]; then
  k create secret generic e2e-redis --from-literal=password="$WHGW_REDIS_PASSWORD" >/dev/null
fi

{
  cat <<YAML
apiVersion: webhooks.flowx.ai/v1alpha1
kind: WebhookGateway
metadata:
  name: $GATEWAY
spec:
  replicas: 1
  ingress:
    enabled: false
    host: hooks.e2e.invalid
  database:
    url: $WHGW_DATABASE_URL
    username: ${WHGW_DATABASE_USERNAME:-postgres}
    passwordSecretRef: {name: e2e-database, key: password}
  kafka:
    bootstrapServers: $WHGW_KAFKA_BOOTSTRAP_SERVERS
YAML
  [[ -n ${WHGW_KAFKA_TOPIC:-} ]] && say "    processStartTopic: $WHGW_KAFKA_TOPIC"
  say "  redis:"
  say "    host: $WHGW_REDIS_HOST"
  say "    port: ${WHGW_REDIS_PORT:-6379}"
  [[ -n ${WHGW_REDIS_PASSWORD:-} ]] && say "    passwordSecretRef: {name: e2e-redis, key: password}"
  say "  sealing:"
  say "    keysSecretRef: {name: e2e-sealing, key: keys}"
  say "  networkPolicy:"
  say "    enabled: false"
} >"$WORK/gateway.yaml"
k apply -f "$WORK/gateway.yaml" >/dev/null
if k wait --for=condition=Ready "webhookgateway/$GATEWAY" --timeout "$TIMEOUT" >/dev/null; then
  pass "WebhookGateway $GATEWAY Ready"
else
  fail "WebhookGateway $GATEWAY not Ready"
  k get webhookgateway "$GATEWAY" -o jsonpath='{range .status.conditions[*]}{.type}={.status} {.reason}: {.message}{"\n"}{end}' | sed 's/^/    /'
  exit 1
fi
for child in deployment/$GATEWAY service/$GATEWAY poddisruptionbudget/$GATEWAY; do
  if k get "$child" -o name >/dev/null 2>&1; then pass "$child created"; else fail "$child missing"; fi
done

k apply -f - >/dev/null <<YAML
apiVersion: webhooks.flowx.ai/v1alpha1
kind: Webhook
metadata:
  name: $WEBHOOK
spec:
  gatewayRef: {name: $GATEWAY}
  workspaceId: e2e
  target: {startEvent: e2e_order_created}
  auth:
    type: api-key
    secretRef: {name: e2e-api-key, key: api-key}
YAML
if k wait --for=condition=Ready "webhook/$WEBHOOK" --timeout "$TIMEOUT" >/dev/null; then
  pass "Webhook $WEBHOOK Ready"
else
  fail "Webhook $WEBHOOK not Ready"
  k get webhook "$WEBHOOK" -o jsonpath='{range .status.conditions[*]}{.type}={.status} {.reason}: {.message}{"\n"}{end}' | sed 's/^/    /'
  exit 1
fi
url=$(k get webhook "$WEBHOOK" -o jsonpath='{.status.url}')
if [[ $url == */webhooks/$WEBHOOK ]]; then pass "status.url is $url"; else fail "status.url is '$url'"; fi
if k get webhook "$WEBHOOK" -o json | grep -q "$KEY"; then
  fail "the API key appears in the Webhook resource"
else
  pass "the API key is not in the Webhook resource"
fi

k port-forward "service/$GATEWAY" "$LOCAL_PORT:8080" >"$WORK/port-forward.log" 2>&1 &
forward_pid=$!
for _ in $(seq 50); do
  curl -s -o /dev/null "http://127.0.0.1:$LOCAL_PORT/actuator/health" && break
  sleep 0.2
done

code=$(post "$KEY")
if [[ $code == 2?? ]]; then pass "POST with the key answered $code"; else fail "POST with the key answered $code: $(cat "$WORK/body")"; fi
event_id=$(sed -n 's/.*"eventId":"\([^"]*\)".*/\1/p' "$WORK/body")
code=$(post "wrong-$KEY")
if [[ $code == 401 ]]; then pass "POST with a wrong key answered 401"; else fail "POST with a wrong key answered $code"; fi

# A new value in the key's Secret is registered at once: the Secret's watch triggers the
# Webhook, and the gateway drops its cached copy on the registration's change notification.
NEW_KEY=e2e-$(head -c 18 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')
k create secret generic e2e-api-key --from-literal=api-key="$NEW_KEY" --dry-run=client -o yaml |
  k apply -f - >/dev/null
deadline=$((SECONDS + 30))
while code=$(post "$NEW_KEY"); [[ $code != 2?? && $SECONDS -lt $deadline ]]; do sleep 1; done
if [[ $code == 2?? ]]; then pass "rotated key accepted ($code)"; else fail "rotated key answered $code after 30 s"; fi
code=$(post "$KEY")
if [[ $code == 401 ]]; then pass "the key before rotation answered 401"; else fail "the key before rotation answered $code"; fi
KEY=$NEW_KEY

# The record the accepted call produced, read back from the start topic inside the cluster.
if [[ -n $event_id ]] && k run e2e-consume --image "$KCAT_IMAGE" --restart Never --quiet \
  --command -- kcat -b "$WHGW_KAFKA_BOOTSTRAP_SERVERS" -C -t "$TOPIC" -o beginning -e -q \
  -f '%h %s\n' >/dev/null; then
  k wait --for=jsonpath='{.status.phase}'=Succeeded pod/e2e-consume --timeout "$TIMEOUT" >/dev/null 2>&1
  k logs pod/e2e-consume >"$WORK/consumed" 2>&1
  if grep -q "$event_id" "$WORK/consumed" && grep "$event_id" "$WORK/consumed" | grep -q '"orderId":"e2e-1"'; then
    pass "record $event_id consumed from $TOPIC with the posted payload"
  else
    fail "record $event_id not found in $TOPIC"; tail -n 5 "$WORK/consumed" | sed 's/^/    /'
  fi
  k delete pod e2e-consume --wait=false >/dev/null 2>&1
else
  fail "no event id to look for, or the consumer pod could not start"
fi

# Every example Webhook (one per auth type) becomes Ready on this gateway.
k apply -f "$EXAMPLES/secrets.yaml" -f "$EXAMPLES/webhooks/" >/dev/null
examples=$(k get webhooks -o name | grep -vxc "webhook.webhooks.flowx.ai/$WEBHOOK")
if k wait --for=condition=Ready webhooks --all --timeout "$TIMEOUT" >/dev/null; then
  pass "all $examples example Webhooks Ready"
else
  fail "example Webhooks not Ready"
  k get webhooks -o jsonpath='{range .items[*]}{.metadata.name}: {.status.conditions[0].reason} {.status.conditions[0].message}{"\n"}{end}' | sed 's/^/    /'
fi

if k delete webhook "$WEBHOOK" --wait --timeout "$TIMEOUT" >/dev/null; then
  pass "Webhook deleted (finalizer released)"
else
  fail "Webhook deletion did not finish"
fi
# The gateway may answer from its caches for a while after the registration is gone.
deadline=$((SECONDS + CACHE_SECONDS))
while code=$(post "$KEY"); [[ $code != 404 && $SECONDS -lt $deadline ]]; do sleep 2; done
if [[ $code == 404 ]]; then pass "POST after deletion answered 404"; else fail "POST after deletion answered $code"; fi

# A change to a Secret the gateway's environment reads rolls its pods, and the gateway comes
# back Ready.
template_mark() {
  k get deployment "$GATEWAY" \
    -o jsonpath='{.spec.template.metadata.annotations.webhooks\.flowx\.ai/secret-versions}'
}
mark=$(template_mark)
k annotate secret e2e-sealing --overwrite "e2e.flowx.ai/touched=$(date +%s)" >/dev/null
deadline=$((SECONDS + 30))
while [[ $(template_mark) == "$mark" && $SECONDS -lt $deadline ]]; do sleep 1; done
if [[ -n $mark && $(template_mark) != "$mark" ]]; then
  pass "a changed Secret marked the pod template for a rollout"
else
  fail "the pod template did not change with its Secret (mark '$mark')"
fi
if k rollout status "deployment/$GATEWAY" --timeout "$TIMEOUT" >/dev/null &&
  k wait --for=condition=Ready "webhookgateway/$GATEWAY" --timeout "$TIMEOUT" >/dev/null; then
  pass "gateway rolled out and Ready again"
else
  fail "gateway did not roll out after its Secret changed"
fi

say "cluster: $PASSED passed, $FAILED failed"
[[ $FAILED -eq 0 ]]
