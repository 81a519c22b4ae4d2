"""The Argo CD health check of WebhookGateway and Webhook, run in Lua 5.1 as Argo CD's
gopher-lua runs it."""

import copy
import pathlib

import pytest
import yaml
from lupa import lua51

CONFIG = pathlib.Path(__file__).resolve().parents[2] / "config" / "argocd"
SCRIPT = (CONFIG / "health.lua").read_text()
KINDS = ["WebhookGateway", "Webhook"]


def to_lua(runtime, value):
    if isinstance(value, dict):
        return runtime.table_from({k: to_lua(runtime, v) for k, v in value.items()})
    if isinstance(value, list):
        return runtime.table_from([to_lua(runtime, v) for v in value])
    return value


def health(resource, script=SCRIPT):
    runtime = lua51.LuaRuntime(unpack_returned_tuples=True)
    runtime.globals().obj = to_lua(runtime, resource)
    result = runtime.execute(script)
    return {"status": result["status"], "message": result["message"]}


def resource(kind, generation=2, status=None):
    document = {
        "apiVersion": "webhooks.flowx.ai/v1alpha1",
        "kind": kind,
        "metadata": {"name": "example", "namespace": "flowx", "generation": generation},
        "spec": {},
    }
    if status is not None:
        document["status"] = status
    return document


def ready(status, reason="Reconciled", message="", observed=2, extra=()):
    return {
        "observedGeneration": observed,
        "conditions": list(extra) + [{
            "type": "Ready",
            "status": status,
            "reason": reason,
            "message": message,
            "lastTransitionTime": "2026-01-01T00:00:00Z",
            "observedGeneration": observed,
        }],
    }


@pytest.mark.parametrize("kind", KINDS)
def test_ready_and_current_is_healthy(kind):
    result = health(resource(kind, status=ready("True", message="Serving 3 replicas")))
    assert result == {"status": "Healthy", "message": "Reconciled: Serving 3 replicas"}


@pytest.mark.parametrize("kind", KINDS)
def test_without_status_is_progressing(kind):
    result = health(resource(kind))
    assert result["status"] == "Progressing"
    assert "report status" in result["message"]


@pytest.mark.parametrize("kind", KINDS)
def test_status_without_conditions_is_progressing(kind):
    result = health(resource(kind, status={"observedGeneration": 2}))
    assert result["status"] == "Progressing"


@pytest.mark.parametrize("kind", KINDS)
def test_older_generation_is_progressing_even_when_ready(kind):
    result = health(resource(kind, generation=3, status=ready("True", observed=2)))
    assert result == {
        "status": "Progressing",
        "message": "Waiting for the operator to reconcile generation 3",
    }


@pytest.mark.parametrize("kind", KINDS)
def test_missing_observed_generation_is_progressing(kind):
    status = ready("True")
    del status["observedGeneration"]
    assert health(resource(kind, status=status))["status"] == "Progressing"


@pytest.mark.parametrize("kind", KINDS)
def test_no_ready_condition_is_progressing(kind):
    status = {
        "observedGeneration": 2,
        "conditions": [{"type": "Reconciled", "status": "True", "reason": "Applied",
                        "message": "", "lastTransitionTime": "2026-01-01T00:00:00Z"}],
    }
    result = health(resource(kind, status=status))
    assert result == {"status": "Progressing", "message": "Waiting for the Ready condition"}


@pytest.mark.parametrize("kind", KINDS)
def test_ready_unknown_is_progressing(kind):
    result = health(resource(kind, status=ready("Unknown", reason="Reconciling")))
    assert result == {"status": "Progressing", "message": "Reconciling"}


@pytest.mark.parametrize(
    "kind,reason,message",
    [
        ("Webhook", "GatewayNotFound", "WebhookGateway webhook-gateway not found"),
        ("Webhook", "SecretMissing", "Secret crm-webhook-api-key has no key api-key"),
        ("Webhook", "IdConflict", "webhook id orders-created is owned by flowx/other"),
        ("WebhookGateway", "DatabaseUnavailable", "connection refused"),
        ("WebhookGateway", "InvalidSpec", "database.url is not a JDBC URL"),
    ],
)
def test_ready_false_is_degraded_with_the_condition_message(kind, reason, message):
    result = health(resource(kind, status=ready("False", reason=reason, message=message)))
    assert result == {"status": "Degraded", "message": f"{reason}: {message}"}


def test_ready_is_found_among_other_conditions():
    others = [
        {"type": "Available", "status": "False", "reason": "Scaling", "message": "0/2",
         "lastTransitionTime": "2026-01-01T00:00:00Z"},
        {"type": "DatabaseReachable", "status": "True", "reason": "Connected", "message": "",
         "lastTransitionTime": "2026-01-01T00:00:00Z"},
    ]
    status = ready("False", reason="DatabaseUnavailable", message="timeout", extra=others)
    assert health(resource("WebhookGateway", status=status))["status"] == "Degraded"


def test_ready_false_without_message_reports_the_reason():
    result = health(resource("Webhook", status=ready("False", reason="InvalidSpec")))
    assert result == {"status": "Degraded", "message": "InvalidSpec"}


def test_a_check_that_ignores_the_generation_would_be_caught():
    # The same script without its generation test must give a different answer here, so the
    # generation test above is not passing by accident.
    careless = SCRIPT.replace("status.observedGeneration ~= generation", "false")
    assert careless != SCRIPT
    stale = resource("Webhook", generation=5, status=ready("True", observed=4))
    assert health(stale, careless)["status"] == "Healthy"
    assert health(stale)["status"] == "Progressing"


def test_resource_is_not_modified():
    original = resource("Webhook", status=ready("True"))
    snapshot = copy.deepcopy(original)
    health(original)
    assert original == snapshot


@pytest.mark.parametrize("kind", KINDS)
def test_argocd_cm_patch_carries_the_same_script(kind):
    patch = yaml.safe_load((CONFIG / "argocd-cm-patch.yaml").read_text())
    key = f"resource.customizations.health.webhooks.flowx.ai_{kind}"
    assert patch["data"][key] == SCRIPT
