"""Switchboard's Grafana dashboards as code: writes deploy/grafana/dashboards/*.json.

Edit the panels here and run `.venv/bin/python deploy/grafana/generate.py`;
tests/unit/test_observability.py fails when the JSON and this file disagree,
and when a panel queries a metric no service exposes. Only metrics that exist
in the services' metrics.py appear: a panel for a metric still to come is
added with the metric, not before.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

DASHBOARDS_DIR = Path(__file__).resolve().parent / "dashboards"
DATASOURCE = {"type": "prometheus", "uid": "prometheus"}
RATE = "$__rate_interval"


def target(expr: str, legend: str = "", ref: str = "A") -> dict[str, Any]:
    """One PromQL query of a panel."""
    return {"datasource": DATASOURCE, "expr": expr, "legendFormat": legend, "refId": ref}


def quantile(q: float, metric: str, by: str = "") -> str:
    """The q-quantile of a histogram over the rate interval, optionally kept per label."""
    keep = f"le, {by}" if by else "le"
    return f"histogram_quantile({q}, sum by ({keep}) (rate({metric}_bucket[{RATE}])))"


class Layout:
    """Places panels left to right on Grafana's 24-column grid."""

    def __init__(self) -> None:
        self.x = 0
        self.y = 0
        self.row_height = 0
        self.next_id = 1

    def place(self, width: int, height: int) -> dict[str, int]:
        """The next free grid position for a panel of this size."""
        if self.x + width > 24:
            self.x, self.y, self.row_height = 0, self.y + self.row_height, 0
        pos = {"x": self.x, "y": self.y, "w": width, "h": height}
        self.x += width
        self.row_height = max(self.row_height, height)
        return pos

    def row(self, title: str) -> dict[str, Any]:
        """A full-width row header."""
        if self.x:
            self.x, self.y, self.row_height = 0, self.y + self.row_height, 0
        panel = {
            "type": "row",
            "title": title,
            "id": self._id(),
            "collapsed": False,
            "gridPos": {"x": 0, "y": self.y, "w": 24, "h": 1},
            "panels": [],
        }
        self.y += 1
        return panel

    def _id(self) -> int:
        self.next_id += 1
        return self.next_id - 1

    def panel(
        self,
        kind: str,
        title: str,
        description: str,
        targets: list[dict[str, Any]],
        *,
        unit: str = "short",
        width: int = 12,
        height: int = 8,
        stack: bool = False,
        thresholds: list[tuple[float, str]] | None = None,
    ) -> dict[str, Any]:
        """A panel of `kind` (timeseries, stat, table, piechart, bargauge)."""
        steps = [{"color": "green", "value": None}]
        steps += [{"color": color, "value": value} for value, color in thresholds or []]
        custom: dict[str, Any] = {}
        if kind == "timeseries":
            custom = {
                "drawStyle": "line",
                "lineWidth": 1,
                "fillOpacity": 30 if stack else 10,
                "stacking": {"mode": "normal" if stack else "none", "group": "A"},
                "thresholdsStyle": {"mode": "line" if thresholds else "off"},
            }
        options: dict[str, Any] = {"legend": {"displayMode": "list", "placement": "bottom"}}
        if kind == "stat":
            options = {
                "colorMode": "background",
                "graphMode": "none",
                "reduceOptions": {"calcs": ["lastNotNull"]},
            }
        return {
            "type": kind,
            "title": title,
            "description": description,
            "id": self._id(),
            "datasource": DATASOURCE,
            "gridPos": self.place(width, height),
            "targets": [dict(t, refId=chr(ord("A") + i)) for i, t in enumerate(targets)],
            "fieldConfig": {
                "defaults": {
                    "unit": unit,
                    "custom": custom,
                    "thresholds": {"mode": "absolute", "steps": steps},
                },
                "overrides": [],
            },
            "options": options,
        }


def dashboard(
    uid: str, title: str, description: str, panels: list[dict[str, Any]]
) -> dict[str, Any]:
    """A complete dashboard document, as Grafana's file provider reads it."""
    return {
        "uid": uid,
        "title": title,
        "description": description,
        "tags": ["switchboard"],
        "timezone": "browser",
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "schemaVersion": 39,
        "version": 1,
        "editable": False,
        "graphTooltip": 1,
        "links": [
            {
                "type": "dashboards",
                "tags": ["switchboard"],
                "title": "Switchboard",
                "asDropdown": True,
            }
        ],
        "templating": {"list": []},
        "annotations": {"list": []},
        "panels": panels,
    }


def pipeline() -> dict[str, Any]:
    """Pipeline flow: intake per source, each stage's throughput and latency, lag, dead letters."""
    g = Layout()
    panels = [
        g.row("Health"),
        g.panel(
            "stat",
            "Services up",
            "1 when Prometheus can scrape the service.",
            [target('up{job=~"ingest|classifier|router"}', "{{job}} {{instance}}")],
            width=8,
            height=4,
            thresholds=[(0, "red"), (1, "green")],
        ),
        g.panel(
            "stat",
            "Ingest Kafka producer",
            "1 when each ingest replica's producer is started.",
            [target("switchboard_ingest_kafka_producer_up", "{{instance}}")],
            width=8,
            height=4,
            thresholds=[(0, "red"), (1, "green")],
        ),
        g.panel(
            "stat",
            "Ingest writes awaiting Kafka",
            "Records handed to the producer, not yet acknowledged; at the in-flight limit intake answers 503.",
            [target("sum(switchboard_ingest_in_flight)")],
            width=8,
            height=4,
        ),
        g.row("Intake"),
        g.panel(
            "timeseries",
            "Accepted mentions by source",
            "Mentions written to Kafka and acknowledged, per second.",
            [
                target(
                    f"sum by (source) (rate(switchboard_ingest_accepted_total[{RATE}]))",
                    "{{source}}",
                )
            ],
            unit="reqps",
            stack=True,
        ),
        g.panel(
            "timeseries",
            "Accepted mentions by door",
            "API, batch, webhooks and pull connectors.",
            [target(f"sum by (via) (rate(switchboard_ingest_accepted_total[{RATE}]))", "{{via}}")],
            unit="reqps",
            stack=True,
        ),
        g.panel(
            "timeseries",
            "Duplicates and rejections",
            "Duplicates by source; 4xx refusals by reason.",
            [
                target(
                    f"sum by (source) (rate(switchboard_ingest_duplicates_total[{RATE}]))",
                    "duplicate {{source}}",
                ),
                target(
                    f"sum by (reason) (rate(switchboard_ingest_rejected_total[{RATE}]))",
                    "rejected {{reason}}",
                ),
            ],
            unit="reqps",
        ),
        g.panel(
            "timeseries",
            "Refused with 503 by cause",
            "Mentions refused because Kafka could not take them (alert: IngestRefusingWith503).",
            [
                target(
                    f"sum by (cause) (rate(switchboard_ingest_unavailable_total[{RATE}]))",
                    "{{cause}}",
                )
            ],
            unit="reqps",
            thresholds=[(0.001, "red")],
        ),
        g.panel(
            "timeseries",
            "Pull connectors: behind their source",
            "Age of the newest item each connector accepted, and time since its last success.",
            [
                target(
                    "max by (connector) (switchboard_ingest_connector_lag_seconds)",
                    "behind {{connector}}",
                ),
                target(
                    "time() - max by (connector) (switchboard_ingest_connector_last_success_timestamp_seconds)",
                    "since success {{connector}}",
                ),
            ],
            unit="s",
            thresholds=[(900, "red")],
        ),
        g.panel(
            "timeseries",
            "Pull connector errors",
            "Fetch, parse and connection failures per connector.",
            [
                target(
                    f"sum by (connector) (rate(switchboard_ingest_connector_errors_total[{RATE}]))",
                    "{{connector}}",
                )
            ],
            unit="reqps",
        ),
        g.row("Stages"),
        g.panel(
            "timeseries",
            "Throughput per stage",
            "Mentions per second through each stage: equal lines mean nothing is piling up between them.",
            [
                target(f"sum(rate(switchboard_ingest_accepted_total[{RATE}]))", "ingest accepted"),
                target(
                    f"sum(rate(switchboard_classifier_consumed_total[{RATE}]))",
                    "classifier consumed",
                ),
                target(
                    f"sum(rate(switchboard_classifier_classified_total[{RATE}]))",
                    "classifier classified",
                ),
                target(f"sum(rate(switchboard_router_consumed_total[{RATE}]))", "router consumed"),
                target(f"sum(rate(switchboard_router_queued_total[{RATE}]))", "router queued"),
                target(
                    f"sum(rate(switchboard_router_duplicates_total[{RATE}]))", "router duplicates"
                ),
            ],
            unit="reqps",
        ),
        g.panel(
            "timeseries",
            "Delay from ingest (p50 / p95)",
            "Time from ingest accepting a mention to the classifier writing it and to the router queuing it (alert: PipelineSlow).",
            [
                target(
                    quantile(0.5, "switchboard_classifier_received_to_classified_seconds"),
                    "classified p50",
                ),
                target(
                    quantile(0.95, "switchboard_classifier_received_to_classified_seconds"),
                    "classified p95",
                ),
                target(
                    quantile(0.5, "switchboard_router_received_to_queued_seconds"), "queued p50"
                ),
                target(
                    quantile(0.95, "switchboard_router_received_to_queued_seconds"), "queued p95"
                ),
            ],
            unit="s",
            thresholds=[(10, "red")],
        ),
        g.panel(
            "timeseries",
            "Ingest latency (p95)",
            "Time to answer an intake request by route, and Kafka's acknowledgement time.",
            [
                target(
                    quantile(0.95, "switchboard_ingest_request_seconds", "route"),
                    "request {{route}}",
                ),
                target(quantile(0.95, "switchboard_ingest_kafka_ack_seconds"), "Kafka ack"),
            ],
            unit="s",
        ),
        g.panel(
            "timeseries",
            "Batch time (p95)",
            "Classifier: classify a batch and have Kafka acknowledge it. Router: store a batch, publish, commit.",
            [
                target(quantile(0.95, "switchboard_classifier_batch_seconds"), "classifier batch"),
                target(quantile(0.95, "switchboard_router_batch_seconds"), "router batch"),
            ],
            unit="s",
        ),
        g.panel(
            "timeseries",
            "Consumer lag",
            "Messages each consumer group has still to read, per topic (Strimzi Kafka Exporter; alert: ConsumerLagGrowing).",
            [
                target(
                    'sum by (consumergroup, topic) (kafka_consumergroup_lag{consumergroup=~"switchboard-.+"})',
                    "{{consumergroup}} on {{topic}}",
                )
            ],
        ),
        g.panel(
            "timeseries",
            "Router: own lag and outbox",
            "Classified mentions the router members have still to handle (their own gauge), and events waiting in the outbox.",
            [
                target("sum(switchboard_router_consumer_lag_records)", "router lag (records)"),
                target("max(switchboard_router_outbox_backlog)", "outbox backlog"),
            ],
        ),
        g.panel(
            "timeseries",
            "Retries",
            "Classifier batches re-written to Kafka; router batches retried by what failed (alert: RouterRetrying).",
            [
                target(
                    f"sum(rate(switchboard_classifier_produce_retries_total[{RATE}]))",
                    "classifier produce",
                ),
                target(
                    f"sum by (failed) (rate(switchboard_router_retries_total[{RATE}]))",
                    "router {{failed}}",
                ),
            ],
            unit="reqps",
        ),
        g.row("Dead letters"),
        g.panel(
            "timeseries",
            "Dead letters by stage and reason",
            "Records sent to mentions.deadletter.v1 in each interval (alerts: *DeadLettersGrowing).",
            [
                target(
                    f"sum by (source, reason) (increase(switchboard_ingest_deadlettered_total[{RATE}]))",
                    "ingest {{source}} {{reason}}",
                ),
                target(
                    f"sum by (reason) (increase(switchboard_classifier_deadlettered_total[{RATE}]))",
                    "classifier {{reason}}",
                ),
                target(
                    f"sum by (reason) (increase(switchboard_router_deadlettered_total[{RATE}]))",
                    "router {{reason}}",
                ),
            ],
            width=24,
            stack=True,
            thresholds=[(1, "red")],
        ),
    ]
    return dashboard(
        "switchboard-pipeline",
        "Switchboard · Pipeline flow",
        "From intake to queue: per-source intake, each stage's throughput and latency, consumer lag and dead letters.",
        panels,
    )


def queues() -> dict[str, Any]:
    """Queues: depth and oldest waiting age per queue, what is arriving by urgency."""
    # Every router replica reads the queue gauges from the same database, so
    # they are combined with max across replicas, never summed.
    g = Layout()
    panels = [
        g.row("Now"),
        g.panel(
            "stat",
            "Oldest unclaimed critical (emergency queue)",
            "Age of the oldest unclaimed item in the emergency queue; the critical SLA is 60 s to claim (alert: CriticalMentionUnclaimedPastSla).",
            [target('max(switchboard_router_queue_oldest_item_age_seconds{queue="emergency"})')],
            unit="s",
            width=8,
            height=5,
            thresholds=[(30, "orange"), (60, "red")],
        ),
        g.panel(
            "stat",
            "Open items",
            "Unclaimed items over all queues.",
            [target("sum(max by (queue) (switchboard_router_queue_depth))")],
            width=8,
            height=5,
        ),
        g.panel(
            "stat",
            "Critical mentions queued (last hour)",
            "Critical mentions the router placed in the last hour.",
            [target('sum(increase(switchboard_router_queued_total{urgency="critical"}[1h]))')],
            width=8,
            height=5,
            thresholds=[(1, "orange")],
        ),
        g.row("Per queue"),
        g.panel(
            "bargauge",
            "Open items by queue",
            "Unclaimed items per queue, now.",
            [target("max by (queue) (switchboard_router_queue_depth)", "{{queue}}")],
        ),
        g.panel(
            "bargauge",
            "Oldest unclaimed item by queue",
            "Age of the oldest unclaimed item per queue, now. SLAs: critical 60 s, high 5 min, normal 1 h.",
            [
                target(
                    "max by (queue) (switchboard_router_queue_oldest_item_age_seconds)", "{{queue}}"
                )
            ],
            unit="s",
            thresholds=[(300, "orange"), (3600, "red")],
        ),
        g.panel(
            "timeseries",
            "Queue depth over time",
            "Unclaimed items per queue.",
            [target("max by (queue) (switchboard_router_queue_depth)", "{{queue}}")],
        ),
        g.panel(
            "timeseries",
            "Oldest unclaimed age over time",
            "Age of the oldest unclaimed item per queue (alerts: *MentionUnclaimedPastSla).",
            [
                target(
                    "max by (queue) (switchboard_router_queue_oldest_item_age_seconds)", "{{queue}}"
                )
            ],
            unit="s",
            thresholds=[(60, "orange"), (300, "red")],
        ),
        g.panel(
            "timeseries",
            "Open items by urgency",
            "Unclaimed items per urgency over all queues.",
            [
                target(
                    "sum by (urgency) (max by (queue, urgency) (switchboard_router_queue_depth_by_urgency))",
                    "{{urgency}}",
                )
            ],
            stack=True,
        ),
        g.panel(
            "table",
            "Open items by queue and urgency",
            "Unclaimed items per queue and urgency, now.",
            [
                target(
                    "max by (queue, urgency) (switchboard_router_queue_depth_by_urgency) > 0",
                    "{{queue}} {{urgency}}",
                )
            ],
        ),
        g.row("Work"),
        g.panel(
            "timeseries",
            "Time to claim (p50 / p95) by urgency",
            "From queued to claimed by an officer or by assignment. SLAs: critical 60 s, high 5 min, normal 1 h.",
            [
                target(
                    quantile(0.5, "switchboard_router_time_to_claim_seconds", "urgency"),
                    "p50 {{urgency}}",
                ),
                target(
                    quantile(0.95, "switchboard_router_time_to_claim_seconds", "urgency"),
                    "p95 {{urgency}}",
                ),
            ],
            unit="s",
            width=8,
        ),
        g.panel(
            "timeseries",
            "Time to acknowledge (p50 / p95) by urgency",
            "From queued to acknowledged.",
            [
                target(
                    quantile(0.5, "switchboard_router_time_to_acknowledge_seconds", "urgency"),
                    "p50 {{urgency}}",
                ),
                target(
                    quantile(0.95, "switchboard_router_time_to_acknowledge_seconds", "urgency"),
                    "p95 {{urgency}}",
                ),
            ],
            unit="s",
            width=8,
        ),
        g.panel(
            "timeseries",
            "Time to resolve (p50 / p95) by urgency",
            "From queued to resolved.",
            [
                target(
                    quantile(0.5, "switchboard_router_time_to_resolve_seconds", "urgency"),
                    "p50 {{urgency}}",
                ),
                target(
                    quantile(0.95, "switchboard_router_time_to_resolve_seconds", "urgency"),
                    "p95 {{urgency}}",
                ),
            ],
            unit="s",
            width=8,
        ),
        g.panel(
            "timeseries",
            "SLA breaches by queue and deadline",
            "Items that missed their claim or acknowledge deadline, per interval (alert: SlaBreachesRepeated).",
            [
                target(
                    f"sum by (queue, breach) (increase(switchboard_router_sla_breaches_total[{RATE}]))",
                    "{{queue}} {{breach}}",
                )
            ],
            width=8,
            stack=True,
            thresholds=[(1, "red")],
        ),
        g.panel(
            "timeseries",
            "Escalations by queue and tier",
            "SLA ladder tiers fired, per interval.",
            [
                target(
                    f"sum by (queue, tier) (increase(switchboard_router_escalations_total[{RATE}]))",
                    "{{queue}} tier {{tier}}",
                )
            ],
            width=8,
            stack=True,
        ),
        g.panel(
            "timeseries",
            "Expired claims by queue",
            "Claims whose lease ran out and went back to the pool: officers claiming and walking away.",
            [
                target(
                    f"sum by (queue) (increase(switchboard_router_expired_claims_total[{RATE}]))",
                    "{{queue}}",
                )
            ],
            width=8,
            stack=True,
        ),
        g.row("Arrivals"),
        g.panel(
            "timeseries",
            "Items queued by urgency",
            "New queue items per second by urgency.",
            [
                target(
                    f"sum by (urgency) (rate(switchboard_router_queued_total[{RATE}]))",
                    "{{urgency}}",
                )
            ],
            unit="reqps",
            stack=True,
        ),
        g.panel(
            "timeseries",
            "Items queued by queue",
            "New queue items per second by queue.",
            [
                target(
                    f"sum by (queue) (rate(switchboard_router_queued_total[{RATE}]))", "{{queue}}"
                )
            ],
            unit="reqps",
            stack=True,
        ),
        g.panel(
            "table",
            "Routing policy in force",
            "The routing policy version each router replica runs, and reloads by outcome.",
            [
                target(
                    "max by (version, instance) (switchboard_router_policy_info)",
                    "{{version}} {{instance}}",
                ),
                target("sum by (outcome) (switchboard_router_policy_reloads_total)", "{{outcome}}"),
            ],
            width=24,
            height=6,
        ),
        g.row("Answering citizens"),
        g.panel(
            "timeseries",
            "Answered share by queue (last 24 h) and target",
            "Share of the last day's answerable mentions (answerable source, not spam, not a "
            "duplicate) with a sent reply, and the policy's target (replies.answered_target).",
            [
                target("max by (queue) (switchboard_router_answered_share)", "{{queue}}"),
                target("max by (queue) (switchboard_router_answered_target)", "target {{queue}}"),
            ],
            unit="percentunit",
        ),
        g.panel(
            "timeseries",
            "First response (p50 / p90) by queue",
            "From the citizen's post to the platform confirming our first reply.",
            [
                target(
                    quantile(0.5, "switchboard_router_first_response_seconds", "queue"),
                    "p50 {{queue}}",
                ),
                target(
                    quantile(0.9, "switchboard_router_first_response_seconds", "queue"),
                    "p90 {{queue}}",
                    "B",
                ),
            ],
            unit="s",
        ),
        g.panel(
            "timeseries",
            "Reply steps and outcomes",
            "Replies written, approved, rejected and handed to the responder, and what the "
            "responder reported (sent, failed, unknown: a person looks before any retry).",
            [
                target(
                    f"sum by (step) (increase(switchboard_router_reply_steps_total[{RATE}]))",
                    "{{step}}",
                ),
                target(
                    f"sum by (status) (increase(switchboard_router_reply_outcomes_total[{RATE}]))",
                    "reported {{status}}",
                    "B",
                ),
            ],
        ),
        g.panel(
            "timeseries",
            "Citizens' answers and echoes",
            "Answers to our replies joined to their items' threads, and our own posts brought "
            "back by connectors (dropped, never queued).",
            [
                target(
                    f"sum by (source) (increase(switchboard_router_citizen_answers_total[{RATE}]))",
                    "answers {{source}}",
                ),
                target(
                    f"sum(increase(switchboard_router_echoes_dropped_total[{RATE}]))",
                    "echoes dropped",
                    "B",
                ),
            ],
        ),
    ]
    return dashboard(
        "switchboard-queues",
        "Switchboard · Queues",
        "What officers face: open items and the oldest waiting per queue and urgency, time to claim, acknowledge and resolve, SLA breaches and escalations.",
        panels,
    )


def classification() -> dict[str, Any]:
    """Classification: urgency and topic mix over time, the rule set in use."""
    g = Layout()
    panels = [
        g.row("Mix"),
        g.panel(
            "timeseries",
            "Urgency over time",
            "Mentions classified per second by urgency.",
            [
                target(
                    f"sum by (urgency) (rate(switchboard_classifier_classified_total[{RATE}]))",
                    "{{urgency}}",
                )
            ],
            unit="reqps",
            stack=True,
        ),
        g.panel(
            "piechart",
            "Urgency share (time range)",
            "Share of each urgency over the dashboard's time range.",
            [
                target(
                    "sum by (urgency) (increase(switchboard_classifier_classified_total[$__range]))",
                    "{{urgency}}",
                )
            ],
        ),
        g.panel(
            "timeseries",
            "Topics over time",
            "Topic labels attached per second (a mention can carry several).",
            [
                target(
                    f"sum by (topic) (rate(switchboard_classifier_topic_tags_total[{RATE}]))",
                    "{{topic}}",
                )
            ],
            unit="reqps",
            stack=True,
        ),
        g.panel(
            "piechart",
            "Topic share (time range)",
            "Share of each topic label over the dashboard's time range.",
            [
                target(
                    "sum by (topic) (increase(switchboard_classifier_topic_tags_total[$__range]))",
                    "{{topic}}",
                )
            ],
        ),
        g.row("Rules"),
        g.panel(
            "table",
            "Rule set in use",
            "The classifier's rule set version on each replica; two versions at once means a rollout is under way (or stuck).",
            [
                target(
                    "max by (version, instance) (switchboard_classifier_ruleset_info)",
                    "{{version}} {{instance}}",
                )
            ],
        ),
        g.panel(
            "timeseries",
            "Replicas per rule set version",
            "How many classifier replicas run each rule set version.",
            [target("count by (version) (switchboard_classifier_ruleset_info)", "{{version}}")],
        ),
        g.panel(
            "timeseries",
            "Classifier dead letters by reason",
            "Records the classifier could not classify.",
            [
                target(
                    f"sum by (reason) (increase(switchboard_classifier_deadlettered_total[{RATE}]))",
                    "{{reason}}",
                )
            ],
            width=24,
            thresholds=[(1, "red")],
        ),
        g.row("Shadow"),
        g.panel(
            "timeseries",
            "Shadow disagreements by urgency",
            "Mentions whose candidate (shadow) urgency differs from the published one, "
            "as live -> shadow; empty when no shadow model is configured.",
            [
                target(
                    "sum by (live, shadow) "
                    f"(increase(switchboard_classifier_shadow_disagreements_total[{RATE}]))",
                    "{{live}} -> {{shadow}}",
                )
            ],
        ),
        g.panel(
            "timeseries",
            "Criticals the shadow would raise or drop",
            "Would-be criticals: the candidate says critical, the live model does not. "
            "Dropped: published as critical, not critical for the candidate (a promotion risk).",
            [
                target(
                    f"sum(increase(switchboard_classifier_shadow_would_be_critical_total[{RATE}]))",
                    "would be critical",
                ),
                target(
                    f"sum(increase(switchboard_classifier_shadow_critical_dropped_total[{RATE}]))",
                    "critical dropped",
                    "B",
                ),
            ],
        ),
    ]
    return dashboard(
        "switchboard-classification",
        "Switchboard · Classification",
        "What the classifier decides: urgency and topic mix over time and the rule set in use.",
        panels,
    )


DASHBOARDS = {"pipeline": pipeline, "queues": queues, "classification": classification}


def render() -> dict[str, str]:
    """Each dashboard's file name and JSON text."""
    return {
        f"{name}.json": json.dumps(build(), indent=2) + "\n" for name, build in DASHBOARDS.items()
    }


def main() -> None:
    DASHBOARDS_DIR.mkdir(exist_ok=True)
    for name, text in render().items():
        (DASHBOARDS_DIR / name).write_text(text)


if __name__ == "__main__":
    main()
