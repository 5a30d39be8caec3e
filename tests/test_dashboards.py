"""The Grafana dashboard and the alert rules name only metrics that `/metrics` serves."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from adapters.observability.metrics import ServiceMetrics

ROOT = Path(__file__).resolve().parents[1]
METRIC = re.compile(r"\bagent_learning_[a-z_]+\b")


def served_names() -> set[str]:
    """Every sample name /metrics can carry: counters as NAME_total, gauges as NAME, histograms as
    NAME_bucket, NAME_sum and NAME_count."""
    names = set()
    for family in ServiceMetrics().registry.collect():
        if family.type == "histogram":
            names |= {f"{family.name}_bucket", f"{family.name}_sum", f"{family.name}_count"}
        else:
            names.add(f"{family.name}_total" if family.type == "counter" else family.name)
    return names


def dashboard_expressions() -> list[str]:
    dashboard = json.loads((ROOT / "infra/grafana/agent-learning.json").read_text())
    return [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]


def alert_expressions() -> list[str]:
    rules = yaml.safe_load((ROOT / "infra/prometheus/alerts.yaml").read_text())
    return [rule["expr"] for group in rules["groups"] for rule in group["rules"]]


def test_every_metric_the_dashboard_and_the_alerts_name_is_served():
    served = served_names()
    named = {m for expr in dashboard_expressions() + alert_expressions() for m in METRIC.findall(expr)}
    assert named and named <= served, f"not on /metrics: {sorted(named - served)}"


def test_the_alerts_cover_what_operators_must_hear_about():
    rules = yaml.safe_load((ROOT / "infra/prometheus/alerts.yaml").read_text())
    names = {rule["alert"] for group in rules["groups"] for rule in group["rules"]}
    for needed in (
        "ConsumerLagGrowing",
        "ProjectionFailed",
        "ProjectionLagging",
        "DeadLetterRate",
        "Freezes",
        "RelayStopped",
        "TrainingJobsFailing",
    ):
        assert f"AgentLearning{needed}" in names
    for group in rules["groups"]:
        for rule in group["rules"]:
            assert rule["annotations"]["summary"] and rule["labels"]["severity"] in ("warning", "critical")


def test_the_served_metrics_really_appear_on_metrics_once_used():
    metrics = ServiceMetrics()
    metrics.projection_failed.labels("agent_learning_state").set(1)
    metrics.projection_lag.labels("agent_learning_state").set(4)
    metrics.training_jobs.labels("failed").set(2)
    metrics.consumer_lag.labels("agent-feedback", "0").set(3)
    metrics.messages.labels("recorded").inc()
    metrics.recalculations.labels("timer").inc()
    text = metrics.exposition().decode()
    for name in served_names():
        assert re.search(rf"^{name}(\{{| )", text, re.M), f"{name} has no sample on /metrics"
