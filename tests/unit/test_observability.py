"""Dashboards and alerts query only metrics the services really expose.

The exposed names come from the services' own `metrics.py`, read back from
prometheus_client's registry, so a renamed metric fails here instead of
leaving an empty panel or an alert that can never fire. The promtool checks
(config, rules and the rules' unit tests) run here too, through
deploy/prometheus/check.sh, which installs promtool when it is missing.
"""

from __future__ import annotations

import json
import re
import runpy
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import REGISTRY

import switchboard_classifier.metrics
import switchboard_ingest.metrics
import switchboard_notifier.metrics
import switchboard_responder.metrics
import switchboard_router.metrics

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS_DIR = ROOT / "deploy" / "prometheus"
GRAFANA_DIR = ROOT / "deploy" / "grafana"
DASHBOARDS_DIR = GRAFANA_DIR / "dashboards"
ROUTING_POLICY = (
    ROOT / "services" / "router" / "src" / "switchboard_router" / "routing" / "routing.yaml"
)
SERVICE_METRICS = (
    switchboard_ingest.metrics,
    switchboard_classifier.metrics,
    switchboard_router.metrics,
    switchboard_responder.metrics,
    switchboard_notifier.metrics,
)

# Names queried that no Switchboard service exposes, each with its reason.
NOT_FROM_SERVICES = {
    "up": "Prometheus's own per-target scrape health",
    "kafka_consumergroup_lag": "Strimzi's Kafka Exporter (Kafka spec.kafkaExporter in "
    "deploy/k8s): consumer-group lag per partition, the only lag source for the classifier "
    "(the router also reports its own)",
}

PROMQL_WORDS = {
    "by", "without", "on", "ignoring", "group_left", "group_right", "offset", "bool",
    "and", "or", "unless", "atan2", "inf", "nan",
}  # fmt: skip
SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "summary": ("_sum", "_count", "_created", ""),
    "gauge": ("",),
    "info": ("_info",),
    "stateset": ("",),
    "enum": ("",),
    "unknown": ("",),
}


def exposed_names() -> set[str]:
    """Every sample name the registry would expose, including labelled metrics with no samples yet."""
    assert SERVICE_METRICS  # imported for their registrations
    names: set[str] = set()
    for family in REGISTRY.collect():
        names.update(family.name + suffix for suffix in SUFFIXES[family.type])
    return names


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects (not functions, labels or keywords)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`', '""', expr)
    text = re.sub(r"\{[^}]*\}", " ", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", " ", text)  # ranges and subqueries
    text = re.sub(
        r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text
    )  # label lists
    names = set()
    for match in re.finditer(r"(?<![\w$.])([A-Za-z_:][\w:]*)\b(\s*\()?", text):
        word, call = match.group(1), match.group(2)
        if call or word.lower() in PROMQL_WORDS:
            continue
        names.add(word)
    return names


def find_exprs(node: Any) -> Iterator[str]:
    """Every `expr` string anywhere in a dashboard document."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "expr" and isinstance(value, str):
                yield value
            else:
                yield from find_exprs(value)
    elif isinstance(node, list):
        for item in node:
            yield from find_exprs(item)


def dashboards() -> dict[str, dict[str, Any]]:
    files = sorted(DASHBOARDS_DIR.glob("*.json"))
    assert files, f"no dashboards in {DASHBOARDS_DIR}"
    return {path.name: json.loads(path.read_text()) for path in files}


def alert_rules() -> list[dict[str, Any]]:
    config = yaml.safe_load((PROMETHEUS_DIR / "alerts.yml").read_text())
    rules = [rule for group in config["groups"] for rule in group["rules"]]
    assert rules
    return rules


def unknown(exprs: list[str]) -> set[str]:
    queried = set().union(*(metric_names(expr) for expr in exprs))
    return queried - exposed_names() - set(NOT_FROM_SERVICES)


def test_metric_names_are_found_in_promql_but_not_functions_labels_or_ranges():
    expr = (
        'histogram_quantile(0.95, sum by (le, route) (rate(a_seconds_bucket{route="/v1"}[$__rate_interval])))'
        ' > 10 and on (job) (b_total - b_total offset 10m) or time() - c unless d{x=~"e|f"}'
    )
    assert metric_names(expr) == {"a_seconds_bucket", "b_total", "c", "d"}


def test_exposed_names_follow_the_exposition_suffixes():
    names = exposed_names()
    assert "switchboard_ingest_accepted_total" in names  # a labelled counter with no sample yet
    assert "switchboard_router_batch_seconds_bucket" in names
    assert "switchboard_router_queue_depth" in names
    assert "switchboard_ingest_accepted" not in names


@pytest.mark.parametrize("name", sorted(p.name for p in DASHBOARDS_DIR.glob("*.json")))
def test_every_dashboard_panel_queries_metrics_the_services_expose(name):
    exprs = list(find_exprs(dashboards()[name]))
    assert exprs, f"{name} has no queries"
    assert not unknown(exprs), f"{name} queries metrics no service exposes"


def test_every_alert_queries_metrics_the_services_expose():
    assert not unknown([rule["expr"] for rule in alert_rules()])


def test_every_alert_has_a_severity_a_summary_and_a_description():
    for rule in alert_rules():
        assert rule["labels"]["severity"] in {"critical", "warning"}, rule["alert"]
        annotations = rule["annotations"]
        assert annotations["summary"].strip(), rule["alert"]
        assert len(annotations["description"].split()) >= 20, f"{rule['alert']}: say what to do"


def test_alerts_cover_what_an_operations_centre_needs():
    by_name = {rule["alert"]: rule["expr"] for rule in alert_rules()}
    needs = {
        "CriticalMentionUnclaimedPastSla": "switchboard_router_queue_oldest_item_age_seconds",
        "SwitchboardTargetDown": "up",
        "IngestRefusingWith503": "switchboard_ingest_unavailable_total",
        "SlaBreachesRepeated": "switchboard_router_sla_breaches_total",
        "ConsumerLagGrowing": "kafka_consumergroup_lag",
        "RouterLagGrowing": "switchboard_router_consumer_lag_records",
        "IngestDeadLettersGrowing": "switchboard_ingest_deadlettered_total",
        "ClassifierDeadLettersGrowing": "switchboard_classifier_deadlettered_total",
        "RouterDeadLettersGrowing": "switchboard_router_deadlettered_total",
        "ResponderChannelAuthError": "switchboard_responder_channel_auth_error",
        "ResponderOutcomesUnknown": "switchboard_responder_outcomes_total",
        "ResponderDeadLettersGrowing": "switchboard_responder_deadlettered_total",
        "NotifierChannelFailing": "switchboard_notifier_channel_consecutive_failures",
        "NotifierSendsUnknown": "switchboard_notifier_sends_total",
    }
    for alert, metric in needs.items():
        assert alert in by_name, f"no {alert} alert"
        assert metric in metric_names(by_name[alert]), f"{alert} does not watch {metric}"


def test_the_incidents_dashboard_shows_incidents_and_what_was_paged_per_channel():
    exprs = list(find_exprs(dashboards()["incidents.json"]))
    queried = set().union(*(metric_names(expr) for expr in exprs))
    for metric in (
        "switchboard_router_incidents_open",
        "switchboard_router_incident_members_bucket",
        "switchboard_router_incident_links_total",
        "switchboard_notifier_sends_total",
        "switchboard_notifier_waves_total",
        "switchboard_notifier_suppressed_total",
        "switchboard_notifier_channel_consecutive_failures",
    ):
        assert metric in queried, f"no panel shows {metric}"
    # Links per kind and sends per channel, not one sum of them.
    assert any("incident_links_total" in e and "by (link)" in e for e in exprs)
    assert any("notifier_sends_total" in e and "by (channel" in e for e in exprs)


@pytest.mark.parametrize(
    ("alert", "urgency"),
    [("CriticalMentionUnclaimedPastSla", "critical"), ("HighMentionUnclaimedPastSla", "high")],
)
def test_unclaimed_alerts_use_the_claim_sla_of_the_routing_policy(alert, urgency):
    policy = yaml.safe_load(ROUTING_POLICY.read_text())
    sla = next(entry for entry in policy["sla"] if urgency in entry.get("urgency", []))
    rule = next(rule for rule in alert_rules() if rule["alert"] == alert)
    claim = int(sla["claim_seconds"])
    assert rule["labels"]["sla_seconds"] == str(claim)
    thresholds = {int(t) for t in re.findall(r"\)\s*>\s*(\d+)", rule["expr"])}
    assert thresholds == {claim}, f"{alert} thresholds {thresholds} != claim SLA {claim}s"


def test_dashboard_json_is_what_the_generator_writes():
    generated = runpy.run_path(str(GRAFANA_DIR / "generate.py"))["render"]()
    committed = {path.name: path.read_text() for path in DASHBOARDS_DIR.glob("*.json")}
    assert committed == generated, "run .venv/bin/python deploy/grafana/generate.py"


def test_dashboards_use_the_provisioned_datasource_and_unique_uids():
    provisioned = yaml.safe_load(
        (GRAFANA_DIR / "provisioning" / "datasources" / "prometheus.yml").read_text()
    )
    uids = {source["uid"] for source in provisioned["datasources"]}
    seen = set()
    for name, board in dashboards().items():
        assert board["uid"] not in seen, f"{name}: duplicate uid"
        seen.add(board["uid"])
        for panel in board["panels"]:
            if panel["type"] != "row":
                assert panel["datasource"]["uid"] in uids, f"{name}: {panel['title']}"
                assert panel["targets"], f"{name}: {panel['title']} has no query"


@pytest.fixture(scope="session")
def promtool() -> str:
    """promtool, installed by deploy/prometheus/check.sh (Debian's prometheus package) if missing."""
    subprocess.run(["bash", str(PROMETHEUS_DIR / "check.sh"), "--install"], check=True)
    path = shutil.which("promtool")
    assert path, "check.sh --install did not provide promtool"
    return path


def test_prometheus_config_rules_and_rule_unit_tests_pass_promtool(promtool):
    result = subprocess.run(
        ["bash", str(PROMETHEUS_DIR / "check.sh")], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout + result.stderr
