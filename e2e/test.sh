#!/usr/bin/env bash
# Runs the whole test suite on this machine: installs what is missing, starts a private stack
# (PostgreSQL, Redis, Tansu) on 127.0.0.1, runs every test against it, and stops it again.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# Build output stays outside the clone and is reused between runs.
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/opt/webhook-gateway/target}
# A stack of its own, so a stack started for development is left alone.
export WHGW_STACK_DIR=${WHGW_TEST_STACK_DIR:-/tmp/webhook-gateway-test-stack}

cd "$ROOT"
trap '"$ROOT/e2e/stack/down.sh" >/dev/null 2>&1 || true' EXIT

"$ROOT/e2e/stack/up.sh"
# shellcheck source=/dev/null
source "$WHGW_STACK_DIR/env"

cargo fmt --all -- --check

# cargo prints one result line per test binary; the last one is often an empty doc-test run, so
# close with the sum of them all.
results=$(mktemp)
status=0
cargo test --workspace --locked --no-fail-fast 2>&1 | tee "$results" || status=$?
# The chart, examples, dashboards and RBAC, checked offline (the RBAC check runs the operator
# binary built above), then the real-cluster suite, which skips itself without KUBECONFIG.
e2e/manifests/validate.sh || status=1
e2e/cluster/run.sh || status=1
awk '/^test result:/ { passed += $4; failed += $6 } END { printf "tests: %d passed, %d failed\n", passed, failed }' "$results"
rm -f "$results"
exit "$status"
