#!/usr/bin/env python3
"""Checks resources against the generated CRDs the way the API server would, without one.

Every document under examples/kubernetes and examples/local, and every WebhookGateway or Webhook in the files given
with --rendered, is checked against the openAPIV3Schema of its CRD (required fields, types,
enums, unknown fields) and against the CRD's CEL rules (x-kubernetes-validations). Documents of
built-in kinds go to kubernetes-validate. Then mutated copies of the examples, each breaking one
rule, must be rejected with that rule's message, so a checker that accepts everything fails.

CEL rules that cel-python cannot compile are listed as "not evaluated offline"; they are never
counted as passed. Exit status 1 when any check failed.
"""

from __future__ import annotations

import argparse
import copy
import ipaddress
import pathlib
import sys
from dataclasses import dataclass, field
from typing import Any, Callable

import celpy
import jsonschema
import kubernetes_validate
import yaml
from celpy import celtypes

ROOT = pathlib.Path(__file__).resolve().parents[2]
CRD_DIR = ROOT / "charts" / "webhook-operator" / "crds"
EXAMPLES = ROOT / "examples" / "kubernetes"
# The resources the local run command applies in file mode are checked as well.
LOCAL_EXAMPLES = ROOT / "examples" / "local"
KUBE_VERSION = "1.33"


# --- the CRD schema as JSON Schema ------------------------------------------------------------


def to_json_schema(node: dict[str, Any]) -> dict[str, Any]:
    """Translates one structural-schema node into JSON Schema.

    The API server drops unknown fields of a structural schema unless the node preserves them;
    `kubectl apply` with strict field validation refuses them. Refusing is what catches typos in
    example files, so objects with declared properties get additionalProperties false.
    """
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in ("properties",):
            out[key] = {name: to_json_schema(child) for name, child in value.items()}
        elif key == "items":
            out[key] = to_json_schema(value)
        elif key == "additionalProperties":
            out[key] = to_json_schema(value) if isinstance(value, dict) else value
        elif key in ("required", "enum", "pattern", "minimum", "maximum", "minLength",
                     "maxLength", "minItems", "maxItems", "description", "default"):
            out[key] = value
        elif key in ("type", "nullable", "format", "title") or key.startswith("x-kubernetes-"):
            continue
        elif key in ("allOf", "anyOf", "oneOf"):
            out[key] = [to_json_schema(child) for child in value]
        elif key == "not":
            out[key] = to_json_schema(value)
        else:
            raise ValueError(f"schema keyword {key!r} is not translated")

    if node.get("x-kubernetes-int-or-string"):
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    elif "type" in node:
        out["type"] = [node["type"], "null"] if node.get("nullable") else node["type"]

    preserves = node.get("x-kubernetes-preserve-unknown-fields", False)
    if node.get("type") == "object" and "properties" in node and "additionalProperties" not in node:
        if not preserves:
            out["additionalProperties"] = False
    return out


def root_schema(crd_schema: dict[str, Any], api_version: str, kind: str) -> dict[str, Any]:
    """The whole object: the CRD schema plus the apiVersion, kind and metadata every object has."""
    schema = to_json_schema(crd_schema)
    schema.setdefault("properties", {})
    schema["properties"]["apiVersion"] = {"const": api_version}
    schema["properties"]["kind"] = {"const": kind}
    schema["properties"]["metadata"] = {
        "type": "object",
        "required": ["name"],
        "properties": {
            "name": {"type": "string", "pattern": r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$"},
            "namespace": {"type": "string"},
            "labels": {"type": "object", "additionalProperties": {"type": "string"}},
            "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
            "generation": {"type": "integer"},
            "finalizers": {"type": "array", "items": {"type": "string"}},
        },
        "additionalProperties": False,
    }
    schema["required"] = sorted(set(schema.get("required", [])) | {"apiVersion", "kind", "metadata"})
    schema["additionalProperties"] = False
    return schema


# --- CEL rules ------------------------------------------------------------------------------


def is_cidr(value: celtypes.Value) -> celtypes.BoolType:
    """Kubernetes' isCIDR: an IPv4 or IPv6 prefix; host bits may be set, leading zeros may not."""
    text = str(value)
    if "/" not in text:
        return celtypes.BoolType(False)
    try:
        ipaddress.ip_network(text, strict=False)
    except ValueError:
        return celtypes.BoolType(False)
    return celtypes.BoolType(True)


CEL_FUNCTIONS = {"isCIDR": is_cidr}


@dataclass
class Rule:
    path: str
    rule: str
    message: str
    program: Any = None
    compile_error: str | None = None

    @property
    def is_transition(self) -> bool:
        return "oldSelf" in self.rule


@dataclass
class Crd:
    api_version: str
    kind: str
    schema: dict[str, Any]
    validator: jsonschema.Draft202012Validator
    rules: dict[tuple[str, str], Rule] = field(default_factory=dict)


CEL_ENV = celpy.Environment()


def compile_rule(path: str, spec: dict[str, Any]) -> Rule:
    rule = Rule(path=path, rule=spec["rule"], message=spec.get("message", spec["rule"]))
    try:
        rule.program = CEL_ENV.program(CEL_ENV.compile(rule.rule), functions=CEL_FUNCTIONS)
    except Exception as error:  # cel-python raises several unrelated types on unsupported syntax
        rule.compile_error = f"{type(error).__name__}: {error}"
    return rule


def collect_rules(node: dict[str, Any], path: str, rules: dict[tuple[str, str], Rule]) -> None:
    for spec in node.get("x-kubernetes-validations", []):
        rules[(path, spec["rule"])] = compile_rule(path, spec)
    for name, child in node.get("properties", {}).items():
        collect_rules(child, f"{path}.{name}", rules)
    if isinstance(node.get("items"), dict):
        collect_rules(node["items"], f"{path}[]", rules)
    if isinstance(node.get("additionalProperties"), dict):
        collect_rules(node["additionalProperties"], f"{path}{{}}", rules)


def load_crds() -> dict[tuple[str, str], Crd]:
    crds = {}
    for path in sorted(CRD_DIR.glob("*.yaml")):
        document = yaml.safe_load(path.read_text())
        group, kind = document["spec"]["group"], document["spec"]["names"]["kind"]
        for version in document["spec"]["versions"]:
            api_version = f"{group}/{version['name']}"
            schema = version["schema"]["openAPIV3Schema"]
            validator = jsonschema.Draft202012Validator(root_schema(schema, api_version, kind))
            crd = Crd(api_version, kind, schema, validator)
            collect_rules(schema, "self", crd.rules)
            crds[(api_version, kind)] = crd
    return crds


UNSET = object()


def evaluate_rules(
    crd: Crd,
    node: dict[str, Any],
    value: Any,
    path: str,
    old: Any,
    used: set[tuple[str, str]],
    errors: list[str],
) -> None:
    """Evaluates the rules of `node` on `value`, then descends like the API server does.

    Rules run only where the field is set. Transition rules (those naming oldSelf) run only on an
    update where the old object has the same field; lists are not correlated, so below a list
    element there is no old value.
    """
    if value is None:
        return
    for spec in node.get("x-kubernetes-validations", []):
        rule = crd.rules[(path, spec["rule"])]
        if rule.compile_error:
            continue
        if rule.is_transition and old is UNSET:
            continue
        used.add((path, spec["rule"]))
        activation = {"self": celpy.json_to_cel(value)}
        if rule.is_transition:
            activation["oldSelf"] = celpy.json_to_cel(old)
        try:
            result = rule.program.evaluate(activation)
        except Exception as error:  # an evaluation error fails the rule on the API server too
            result = error
        if result != celtypes.BoolType(True):
            errors.append(f"{path}: {rule.message} (rule: {rule.rule})")

    if isinstance(value, dict):
        for name, child in node.get("properties", {}).items():
            if name in value:
                old_child = old.get(name, UNSET) if isinstance(old, dict) else UNSET
                if old_child is None:
                    old_child = UNSET
                evaluate_rules(crd, child, value[name], f"{path}.{name}", old_child, used, errors)
        extra = node.get("additionalProperties")
        if isinstance(extra, dict):
            for key, item in value.items():
                evaluate_rules(crd, extra, item, f"{path}{{}}", UNSET, used, errors)
    if isinstance(value, list) and isinstance(node.get("items"), dict):
        for item in value:
            evaluate_rules(crd, node["items"], item, f"{path}[]", UNSET, used, errors)


def check_document(
    crds: dict[tuple[str, str], Crd],
    document: dict[str, Any],
    used: set[tuple[str, str]],
    old: dict[str, Any] | None = None,
) -> list[str]:
    """The reasons the API server would refuse `document` (as an update of `old` when given)."""
    key = (document.get("apiVersion"), document.get("kind"))
    crd = crds.get(key)
    if crd is None:
        try:
            kubernetes_validate.validate(document, KUBE_VERSION, strict=True)
        except kubernetes_validate.ValidationError as error:
            return [str(error).splitlines()[0]]
        return []

    errors = [
        f"{'.'.join(str(p) for p in error.absolute_path) or '<root>'}: {error.message}"
        for error in crd.validator.iter_errors(document)
    ]
    if errors:
        # The API server validates the schema before it runs any rule.
        return errors
    body = {k: v for k, v in document.items() if k in ("spec", "status")}
    old_body = UNSET if old is None else {k: v for k, v in old.items() if k in ("spec", "status")}
    evaluate_rules(crd, crd.schema, body, "self", old_body, used, errors)
    return errors


def load_documents(path: pathlib.Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


# --- negative cases ---------------------------------------------------------------------------


def example(name: str) -> dict[str, Any]:
    """One example document by metadata.name, as a fresh copy to mutate."""
    for path in sorted(EXAMPLES.rglob("*.yaml")):
        for document in load_documents(path):
            if document.get("metadata", {}).get("name") == name:
                return copy.deepcopy(document)
    raise KeyError(f"no example named {name}")


def mutate(name: str, change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    document = example(name)
    change(document)
    return document


def without(mapping: dict[str, Any], key: str) -> None:
    del mapping[key]


@dataclass
class Case:
    name: str
    document: dict[str, Any]
    expected: str | None  # None: must be accepted; otherwise a text the refusal must contain
    old: dict[str, Any] | None = None


def cases() -> list[Case]:
    gateway = "webhook-gateway"
    return [
        Case(
            "hmac auth without hmac settings",
            mutate("core-banking-transfers", lambda d: without(d["spec"]["auth"], "hmac")),
            "hmac settings are required for type hmac",
        ),
        Case(
            "api-key auth with basic settings",
            mutate("orders-created", lambda d: d["spec"]["auth"].update(basic={"username": "u"})),
            "basic settings are required for type basic",
        ),
        Case(
            "basic auth without a username",
            mutate("claims-filed", lambda d: without(d["spec"]["auth"], "basic")),
            "basic settings are required for type basic",
        ),
        Case(
            "webhookId starting with a dash",
            mutate("crm-lead-created", lambda d: d["spec"].update(webhookId="-crm lead")),
            "must be 1 to 128 of [A-Za-z0-9._-]",
        ),
        Case(
            "allowed source that is not a CIDR range",
            mutate("claims-filed", lambda d: d["spec"].update(allowedSourceCidrs=["10.20.0.0/33"])),
            "entries must be CIDR ranges",
        ),
        Case(
            "allowed source that is an address without prefix length",
            mutate("claims-filed", lambda d: d["spec"].update(allowedSourceCidrs=["10.20.0.1"])),
            "entries must be CIDR ranges",
        ),
        Case(
            "auth type nobody implements",
            mutate("orders-created", lambda d: d["spec"]["auth"].update(type="oauth")),
            "unknown auth type",
        ),
        Case(
            "type none with a secret",
            mutate("branch-document-scanned", lambda d: d["spec"]["auth"].update(
                secretRef={"name": "s", "key": "k"})),
            "type none takes no secret",
        ),
        Case(
            "toleranceSeconds on an api-key webhook",
            mutate("orders-created", lambda d: d["spec"]["auth"].update(toleranceSeconds=60)),
            "toleranceSeconds applies to",
        ),
        Case(
            "signed timestamp without a timestamp header",
            mutate("core-banking-transfers",
                   lambda d: without(d["spec"]["auth"]["hmac"], "timestampHeader")),
            "signedContent with {timestamp} needs timestampHeader",
        ),
        Case(
            "burst without a sustained rate",
            mutate("orders-created", lambda d: without(d["spec"]["limits"], "ratePerSecond")),
            "limits.burst needs limits.ratePerSecond",
        ),
        Case(
            "response status outside 200, 202, 204",
            mutate("slack-support-mentions", lambda d: d["spec"]["response"].update(status=201)),
            "must be 200, 202 or 204",
        ),
        Case(
            "forwarded header with a space",
            mutate("github-release-push", lambda d: d["spec"].update(forwardedHeaders=["X Bad"])),
            "entries must be HTTP header names",
        ),
        Case(
            "misspelt field",
            mutate("orders-created", lambda d: d["spec"].update(workspace="retail-banking")),
            "Additional properties are not allowed",
        ),
        Case(
            "missing target",
            mutate("orders-created", lambda d: without(d["spec"], "target")),
            "'target' is a required property",
        ),
        Case(
            "rate limit given as text",
            mutate("orders-created", lambda d: d["spec"]["limits"].update(ratePerSecond="fast")),
            "is not of type 'integer'",
        ),
        Case(
            "unchanged update of a webhook",
            example("crm-lead-created"),
            None,
            old=example("crm-lead-created"),
        ),
        Case(
            "update changing workspaceId",
            mutate("crm-lead-created", lambda d: d["spec"].update(workspaceId="mortgages")),
            "workspaceId is immutable",
            old=example("crm-lead-created"),
        ),
        Case(
            "update changing webhookId",
            mutate("crm-lead-created", lambda d: d["spec"].update(webhookId="crm-lead-v2")),
            "webhookId is immutable",
            old=example("crm-lead-created"),
        ),
        Case(
            "update removing webhookId",
            mutate("crm-lead-created", lambda d: without(d["spec"], "webhookId")),
            "webhookId cannot be added or removed",
            old=example("crm-lead-created"),
        ),
        Case(
            "update moving a webhook to another gateway",
            mutate("crm-lead-created", lambda d: d["spec"].update(gatewayRef={"name": "other"})),
            "gatewayRef is immutable",
            old=example("crm-lead-created"),
        ),
        Case(
            "gateway database URL that is not JDBC",
            mutate(gateway, lambda d: d["spec"]["database"].update(url="postgres://db/wh")),
            "must be a jdbc:postgresql:// URL",
        ),
        Case(
            "gateway Kafka OAuth over PLAINTEXT",
            mutate(gateway, lambda d: d["spec"]["kafka"].update(securityProtocol="PLAINTEXT")),
            "oauth needs securityProtocol SASL_PLAINTEXT",
        ),
        Case(
            "gateway without Redis",
            mutate(gateway, lambda d: without(d["spec"], "redis")),
            "'redis' is a required property",
        ),
        Case(
            "gateway network policy port out of range",
            mutate(gateway, lambda d: d["spec"]["networkPolicy"]["egress"]["kafka"].update(
                ports=[70000])),
            "ports must be 1 to 65535",
        ),
        Case(
            "gateway log level that does not exist",
            mutate(gateway, lambda d: d["spec"]["logging"].update(root="VERBOSE")),
            "must be a log level",
        ),
        Case(
            "gateway public URL without a scheme",
            mutate(gateway, lambda d: d["spec"].update(publicUrl="hooks.example.com")),
            "must be an http(s) URL",
        ),
        Case(
            "gateway with a fixed pod count and an autoscaler",
            mutate(gateway, lambda d: d["spec"].update(replicas=3)),
            "replicas and autoscaling exclude each other",
        ),
        Case(
            "gateway autoscaling without a CPU request",
            mutate(gateway, lambda d: without(d["spec"]["resources"]["requests"], "cpu")),
            "autoscaling needs resources.requests.cpu",
        ),
        Case(
            "gateway autoscaling with fewer pods at most than at least",
            mutate(gateway, lambda d: d["spec"]["autoscaling"].update(maxReplicas=2)),
            "maxReplicas must be at least minReplicas",
        ),
        Case(
            "gateway autoscaling whose default minimum exceeds its maximum",
            mutate(gateway, lambda d: d["spec"].update(autoscaling={"maxReplicas": 1})),
            "maxReplicas must be at least minReplicas",
        ),
        Case(
            "gateway with a fixed pod count instead of an autoscaler",
            mutate(gateway, lambda d: (without(d["spec"], "autoscaling"),
                                       d["spec"].update(replicas=3))),
            None,
        ),
        Case(
            "Secret with a misspelt field",
            mutate("webhook-gateway-db", lambda d: d.update(stringdata=d.pop("stringData"))),
            "Additional properties are not allowed",
        ),
    ]


# --- main -----------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rendered", action="append", default=[], type=pathlib.Path,
                        help="rendered manifests (helm template output) whose custom resources "
                             "are checked too; other kinds are left to kubernetes-validate")
    parser.add_argument("--only-rendered", action="store_true",
                        help="check the --rendered files only, not the examples and cases")
    args = parser.parse_args()

    crds = load_crds()
    used: set[tuple[str, str]] = set()
    failures = 0

    def report(ok: bool, text: str) -> None:
        nonlocal failures
        failures += not ok
        print(f"{'ok' if ok else 'FAIL'}: {text}")

    example_files = [] if args.only_rendered else (
        sorted(EXAMPLES.rglob("*.yaml")) + sorted(LOCAL_EXAMPLES.glob("*.yaml")))
    if not args.only_rendered:
        report(bool(example_files),
               f"{len(example_files)} example files under {EXAMPLES.relative_to(ROOT)} "
               f"and {LOCAL_EXAMPLES.relative_to(ROOT)}")
    for path in example_files:
        for document in load_documents(path):
            name = f"{path.relative_to(ROOT)} {document.get('kind')}/{document.get('metadata', {}).get('name')}"
            errors = check_document(crds, document, used)
            report(not errors, name + "".join(f"\n    {e}" for e in errors))

    for path in args.rendered:
        custom = [d for d in load_documents(path) if (d.get("apiVersion"), d.get("kind")) in crds]
        print(f"{path.name}: {len(custom)} custom resources rendered")
        for document in custom:
            errors = check_document(crds, document, used)
            report(not errors, f"{path.name} {document['kind']}/{document['metadata']['name']}"
                   + "".join(f"\n    {e}" for e in errors))

    for case in [] if args.only_rendered else cases():
        errors = check_document(crds, case.document, used, case.old)
        if case.expected is None:
            report(not errors, f"accepted: {case.name}" + "".join(f"\n    {e}" for e in errors))
        else:
            matched = any(case.expected in error for error in errors)
            detail = "; ".join(errors) if errors else "accepted"
            report(matched, f"rejected: {case.name}" + ("" if matched else
                   f" (expected {case.expected!r}, got: {detail})"))

    if args.only_rendered:
        print(f"check_examples: {'FAILED' if failures else 'passed'} ({failures} failures)")
        return 1 if failures else 0

    rules = [rule for crd in crds.values() for rule in crd.rules.values()]
    offline = [rule for rule in rules if rule.compile_error]
    for rule in offline:
        print(f"not evaluated offline: {rule.path}: {rule.rule} ({rule.compile_error})")
    unused = [r for r in rules if not r.compile_error and (r.path, r.rule) not in used]
    for rule in unused:
        print(f"note: no example or case reaches {rule.path}: {rule.rule}")
    print(f"CEL rules: {len(rules)} in the CRDs, {len(rules) - len(offline)} evaluated offline, "
          f"{len(offline)} not evaluated offline, {len(unused)} never reached")
    print(f"check_examples: {'FAILED' if failures else 'passed'} ({failures} failures)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
