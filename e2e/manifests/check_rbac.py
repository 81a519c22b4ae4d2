#!/usr/bin/env python3
"""Compares the permissions the operator uses with the ones the chart grants it.

    check_rbac.py --permissions FILE RENDERED.yaml...   check each render of the chart
    check_rbac.py --self-test RENDERED.yaml             show the comparison can fail

FILE is the JSON printed by `webhook-operator permissions`: a list of
{"apiGroup", "resource", "verbs", "scope"?}; entries with scope "lease" belong in the
leader-election Role, every other one in the operator's (Cluster)Role. Every used verb must be
granted, and every granted verb must be used: the operator gets no more than it needs.
"""

from __future__ import annotations

import argparse
import copy
import json
import pathlib
import sys
from typing import Any

import yaml

LEADER_SUFFIX = "-leader-election"
# Kubernetes cannot limit these verbs by resourceNames: a rule naming resources does not grant them.
NAMELESS_VERBS = {"create", "list", "watch", "deletecollection"}


def load_render(path: pathlib.Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def roles(documents: list[dict[str, Any]]) -> tuple[list[dict], list[dict]]:
    """The operator's (Cluster)Roles and its leader-election Roles in one render."""
    found = [d for d in documents if d["kind"] in ("Role", "ClusterRole")]
    leader = [d for d in found if d["metadata"]["name"].endswith(LEADER_SUFFIX)]
    main = [d for d in found if not d["metadata"]["name"].endswith(LEADER_SUFFIX)]
    return main, leader


def grants(role_list: list[dict]) -> set[tuple[str, str, str]]:
    """(apiGroup, resource, verb) triples the roles grant, wildcards kept as '*'."""
    granted = set()
    for role in role_list:
        for rule in role.get("rules", []):
            named = bool(rule.get("resourceNames"))
            for group in rule.get("apiGroups", []):
                for resource in rule.get("resources", []):
                    for verb in rule.get("verbs", []):
                        if named and verb in NAMELESS_VERBS:
                            continue
                        granted.add((group, resource, verb))
    return granted


def is_granted(granted: set[tuple[str, str, str]], group: str, resource: str, verb: str) -> bool:
    return any(
        g in (group, "*") and r in (resource, "*") and v in (verb, "*")
        for g, r, v in granted
    )


def bindings_problems(documents: list[dict[str, Any]], role_list: list[dict]) -> list[str]:
    """Each role must be bound to the operator's ServiceAccount, in the role's namespace."""
    problems = []
    accounts = {(d["metadata"]["name"], d["metadata"].get("namespace")) for d in documents
                if d["kind"] == "ServiceAccount"}
    deployment_accounts = {d["spec"]["template"]["spec"].get("serviceAccountName")
                           for d in documents if d["kind"] == "Deployment"}
    for role in role_list:
        kind, name = role["kind"], role["metadata"]["name"]
        bound = [
            b for b in documents
            if b["kind"] == f"{kind}Binding" and b["roleRef"]["name"] == name
            and b["roleRef"]["kind"] == kind
            and b["metadata"].get("namespace") == role["metadata"].get("namespace")
        ]
        subjects = {(s["name"], s.get("namespace")) for b in bound for s in b.get("subjects", [])
                    if s["kind"] == "ServiceAccount"}
        if not subjects & accounts or not {s for s, _ in subjects} & deployment_accounts:
            problems.append(f"{kind} {name} is not bound to the operator's ServiceAccount")
    return problems


def compare(permissions: list[dict[str, Any]], documents: list[dict[str, Any]]) -> list[str]:
    main, leader = roles(documents)
    problems = []
    if not main:
        problems.append("no Role or ClusterRole for the operator")
    needs_leader = any(p.get("scope") == "lease" for p in permissions)
    leader_env = [
        e.get("value") for d in documents if d["kind"] == "Deployment"
        for c in d["spec"]["template"]["spec"]["containers"] for e in c.get("env", [])
        if e["name"] == "WEBHOOK_OPERATOR_LEADER_ELECTION"
    ]
    electing = "true" in leader_env
    if electing and needs_leader and not leader:
        problems.append("leader election is on but there is no leader-election Role")
    if not electing and leader:
        problems.append("leader election is off but a leader-election Role is rendered")
    problems += bindings_problems(documents, main + leader)

    for scope_roles, scope in ((main, None), (leader, "lease")):
        if scope == "lease" and not electing:
            continue
        granted = grants(scope_roles)
        used = set()
        for permission in permissions:
            if (permission.get("scope") == "lease") != (scope == "lease"):
                continue
            group, resource = permission["apiGroup"], permission["resource"]
            for verb in permission["verbs"]:
                used.add((group, resource, verb))
                if not is_granted(granted, group, resource, verb):
                    where = "leader-election Role" if scope else "operator role"
                    problems.append(f"not granted by the {where}: {verb} "
                                    f"{group or 'core'}/{resource}")
        for group, resource, verb in sorted(granted):
            if "*" in (group, resource, verb):
                problems.append(f"wildcard grant: {verb} {group or 'core'}/{resource}")
            elif (group, resource, verb) not in used:
                problems.append(f"granted but never used: {verb} {group or 'core'}/{resource}")
    return problems


def permissions_of(documents: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The permission list that matches a render exactly, for the self-test."""
    main, leader = roles(documents)
    listed = []
    for role_list, scope in ((main, None), (leader, "lease")):
        by_resource: dict[tuple[str, str], set[str]] = {}
        for group, resource, verb in grants(role_list):
            by_resource.setdefault((group, resource), set()).add(verb)
        for (group, resource), verbs in sorted(by_resource.items()):
            entry = {"apiGroup": group, "resource": resource, "verbs": sorted(verbs)}
            if scope:
                entry["scope"] = scope
            listed.append(entry)
    return listed


def self_test(documents: list[dict[str, Any]]) -> list[str]:
    """The comparison accepts an exact match and refuses a missing and an unused grant."""
    failures = []
    exact = permissions_of(documents)
    if not exact:
        return ["the render grants nothing"]
    if problems := compare(exact, documents):
        failures.append(f"an exact match was refused: {problems}")

    extra = copy.deepcopy(exact) + [{"apiGroup": "", "resource": "configmaps", "verbs": ["get"]}]
    if not any("not granted" in p for p in compare(extra, documents)):
        failures.append("a permission the chart does not grant was accepted")

    fewer = copy.deepcopy(exact)
    fewer[0]["verbs"] = fewer[0]["verbs"][1:]
    if not any("never used" in p for p in compare(fewer, documents)):
        failures.append("a grant the operator does not use was accepted")

    unbound = [d for d in documents if not d["kind"].endswith("Binding")]
    if not any("not bound" in p for p in compare(exact, unbound)):
        failures.append("a role without a binding was accepted")
    return failures


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--permissions", type=pathlib.Path)
    parser.add_argument("--self-test", action="store_true")
    parser.add_argument("renders", nargs="+", type=pathlib.Path)
    args = parser.parse_args()

    failed = False
    for render in args.renders:
        documents = load_render(render)
        if args.self_test:
            problems = self_test(documents)
        else:
            permissions = json.loads(args.permissions.read_text())
            problems = compare(permissions, documents)
        for problem in problems:
            print(f"  {render.name}: {problem}")
        failed |= bool(problems)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
