#!/usr/bin/env python3
"""Checks that the Grafana dashboard and the Prometheus alerts only query metrics that exist.

Known metrics are the gateway's, read from gateway/src/metrics.rs, and the operator's, from the
list below (the metrics its `run` command exports). Label values of `outcome` (gateway) and
`reason` (operator errors) are checked too, since a misspelt one matches nothing and silently
turns a panel or an alert off. Exit status 1 when anything is unknown.
"""

from __future__ import annotations

import json
import pathlib
import re
import sys

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "config" / "grafana" / "webhook-gateway.json"
ALERTS = ROOT / "config" / "prometheus" / "alerts.yaml"
GATEWAY_METRICS = ROOT / "gateway" / "src" / "metrics.rs"
GATEWAY_OUTCOMES = [ROOT / "gateway" / "src" / "ingest" / "mod.rs",
                    ROOT / "gateway" / "src" / "ingest" / "problem.rs"]

# name -> whether it is a histogram (and so has _bucket, _sum and _count series).
OPERATOR_METRICS = {
    "webhook_operator_reconciles_total": False,
    "webhook_operator_reconcile_errors_total": False,
    "webhook_operator_reconcile_duration_seconds": True,
    "webhook_operator_resources": False,
    "webhook_operator_leader": False,
}
OPERATOR_LABEL_VALUES = {
    "reason": {"GatewayNotFound", "DatabaseUnavailable", "SecretMissing", "InvalidSpec",
               "IdConflict", "KubernetesApi"},
    "kind": {"WebhookGateway", "Webhook"},
    "ready": {"true", "false"},
}

KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or",
            "unless", "offset", "inf", "nan", "le"}


def gateway_metrics() -> dict[str, bool]:
    source = GATEWAY_METRICS.read_text()
    names = {}
    for match in re.finditer(r'(Opts::new|HistogramOpts::new|IntCounter::new|IntGauge::new|'
                             r'Gauge::new|Counter::new)\(\s*"([a-zA-Z_:][a-zA-Z0-9_:]*)"', source):
        names[match.group(2)] = match.group(1) == "HistogramOpts::new"
    return names


def gateway_outcomes() -> set[str]:
    outcomes = set()
    for path in GATEWAY_OUTCOMES:
        outcomes |= set(re.findall(r'"([a-z]+(?:-[a-z]+)*)"', path.read_text()))
    return outcomes


def series_names(known: dict[str, bool]) -> set[str]:
    names = set()
    for name, histogram in known.items():
        names.add(name)
        if histogram:
            names |= {f"{name}_bucket", f"{name}_sum", f"{name}_count"}
    return names


def metric_names(expr: str) -> set[str]:
    """Metric names in a PromQL expression: identifiers that are not functions, keywords,
    label names or label values."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)           # strings
    text = re.sub(r"\{[^}]*\}", "", text)                      # label matchers
    text = re.sub(r"\[[^\]]*\]", "", text)                     # ranges
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", text)
    names = set()
    for match in re.finditer(r"(?<![\w$.])([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\()?", text):
        name, call = match.group(1), match.group(2)
        if call or name.lower() in KEYWORDS:
            continue
        names.add(name)
    return names


def label_values(expr: str, label: str) -> set[str]:
    values = set()
    for op, value in re.findall(rf'\b{label}\s*(=~|!~|=|!=)\s*"([^"]*)"', expr):
        values |= set(value.split("|")) if "~" in op else {value}
    return values


def dashboard_exprs(path: pathlib.Path) -> list[tuple[str, str]]:
    dashboard = json.loads(path.read_text())
    found = []

    def walk(node, where):
        if isinstance(node, dict):
            if isinstance(node.get("expr"), str):
                found.append((where, node["expr"]))
            title = node.get("title", where)
            for value in node.values():
                walk(value, title)
        elif isinstance(node, list):
            for value in node:
                walk(value, where)

    walk(dashboard.get("panels", []), "dashboard")
    for variable in dashboard.get("templating", {}).get("list", []):
        query = variable.get("query")
        query = query.get("query") if isinstance(query, dict) else query
        if variable.get("type") == "query" and query:
            inner = re.match(r"label_values\((.*),\s*\w+\)$", query)
            found.append((f"variable {variable['name']}", inner.group(1) if inner else query))
    return found


def alert_exprs(path: pathlib.Path) -> list[tuple[str, str]]:
    rule = yaml.safe_load(path.read_text())
    return [(r.get("alert") or r.get("record"), r["expr"])
            for group in rule["spec"]["groups"] for r in group["rules"]]


def problems(exprs, known_series, outcomes) -> list[str]:
    found = []
    for where, expr in exprs:
        for name in sorted(metric_names(expr) - known_series):
            found.append(f"{where}: unknown metric {name}")
        for value in sorted(label_values(expr, "outcome")):
            if "webhook_requests_total" in expr and value not in outcomes:
                found.append(f"{where}: unknown gateway outcome {value!r}")
        if "webhook_operator_" in expr:
            for label, allowed in OPERATOR_LABEL_VALUES.items():
                for value in sorted(label_values(expr, label) - allowed):
                    found.append(f"{where}: unknown operator {label} {value!r}")
    return found


def main() -> int:
    failures = 0

    def report(ok: bool, text: str) -> None:
        nonlocal failures
        failures += not ok
        print(f"{'ok' if ok else 'FAIL'}: {text}")

    gateway = gateway_metrics()
    report(len(gateway) >= 3, f"gateway metrics found in source: {', '.join(sorted(gateway))}")
    known = series_names({**gateway, **OPERATOR_METRICS})
    outcomes = gateway_outcomes()

    try:
        dashboard = json.loads(DASHBOARD.read_text())
        variables = {v["name"]: v for v in dashboard["templating"]["list"]}
        has_source = variables.get("datasource", {}).get("type") == "datasource"
        report(has_source, "dashboard parses and has a datasource variable")
        exprs = dashboard_exprs(DASHBOARD)
    except (ValueError, KeyError) as error:
        report(False, f"dashboard: {error}")
        exprs = []
    try:
        exprs += alert_exprs(ALERTS)
        report(True, f"alerts parse ({len(alert_exprs(ALERTS))} rules)")
    except (yaml.YAMLError, KeyError, TypeError) as error:
        report(False, f"alerts: {error}")

    used = set().union(*(metric_names(e) for _, e in exprs)) if exprs else set()
    report(bool(used), f"{len(exprs)} queries name {len(used)} series")
    for problem in problems(exprs, known, outcomes):
        report(False, problem)

    # The extraction must catch a made-up name, a misspelt outcome and a misspelt reason.
    broken = [
        ("made-up metric", "sum(rate(webhook_made_up_total[5m]))"),
        ("misspelt outcome", 'rate(webhook_requests_total{outcome="acepted"}[5m])'),
        ("misspelt reason", 'rate(webhook_operator_reconcile_errors_total{reason="NoGateway"}[5m])'),
        ("histogram suffix on a counter", "rate(webhook_requests_total_bucket[5m])"),
    ]
    for name, expr in broken:
        report(bool(problems([(name, expr)], known, outcomes)), f"a query with a {name} is caught")
    clean = ('histogram_quantile(0.9, sum by (le) (rate(webhook_request_duration_seconds_bucket[5m])))'
             ' / on () sum(rate(webhook_requests_total{outcome="accepted"}[5m]))')
    report(not problems([("clean", clean)], known, outcomes), "a correct query is not flagged")

    print(f"check_metrics: {'FAILED' if failures else 'passed'} ({failures} failures)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
