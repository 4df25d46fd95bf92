"""Switchboard's Grafana dashboards as code: writes deploy/grafana/dashboards/*.json.

Edit the panels here and run `.venv/bin/python deploy/grafana/generate.py`;
tests/unit/test_observability.py fails when the JSON and this file disagree,
and when a panel queries a metric no service exposes. Only metrics that exist
in the services' metrics.py appear: a panel for a metric still to come is
added with the metric, not before.
"""

from __future__ import annotations

import json
from functools import partialmethod
from pathlib import Path
from typing import Any

DASHBOARDS_DIR = Path(__file__).resolve().parent / "dashboards"
DATASOURCE = {"type": "prometheus", "uid": "prometheus"}
RATE = "$__rate_interval"


def target(expr: str, legend: str = "") -> dict[str, Any]:
    """One PromQL query of a panel (the panel letters its queries A, B, … in order)."""
    return {"datasource": DATASOURCE, "expr": expr, "legendFormat": legend}


def value_of(label: str) -> str:
    """A legend showing a label's value, as Grafana writes it: `{{queue}}`."""
    return "{{" + label + "}}"


def summed(expr: str, by: str = "") -> str:
    """`expr` summed over every replica, optionally kept per label."""
    return f"sum by ({by}) ({expr})" if by else f"sum({expr})"


def per_second(counter: str, by: str = "") -> str:
    """A counter's per-second rate over the rate interval, summed, optionally kept per label."""
    return summed(f"rate({counter}[{RATE}])", by)


def per_interval(counter: str, by: str = "", window: str = RATE) -> str:
    """What a counter added in each rate interval (or over `window`), summed, optionally per label."""
    return summed(f"increase({counter}[{window}])", by)


def quantile(q: float, metric: str, by: str = "") -> str:
    """The q-quantile of a histogram over the rate interval, optionally kept per label."""
    keep = f"le, {by}" if by else "le"
    return f"histogram_quantile({q}, sum by ({keep}) (rate({metric}_bucket[{RATE}])))"


def percentiles(
    histogram: str, by: str = "", qs: tuple[float, ...] = (0.5, 0.95), name: str = ""
) -> list[dict[str, Any]]:
    """One target per quantile, named like `classified p95` or `p95 {{urgency}}`."""
    return [
        target(
            quantile(q, histogram, by),
            " ".join(part for part in (name, f"p{round(q * 100)}", by and value_of(by)) if part),
        )
        for q in qs
    ]


class Layout:
    """Places panels left to right on Grafana's 24-column grid."""

    def __init__(self) -> None:
        self.x = 0
        self.y = 0
        self.row_height = 0
        self.next_id = 1
        self.width, self.height = 12, 8

    def place(self, width: int, height: int) -> dict[str, int]:
        """The next free grid position for a panel of this size."""
        if self.x + width > 24:
            self.x, self.y, self.row_height = 0, self.y + self.row_height, 0
        pos = {"x": self.x, "y": self.y, "w": width, "h": height}
        self.x += width
        self.row_height = max(self.row_height, height)
        return pos

    def row(self, title: str, *, width: int = 12, height: int = 8) -> dict[str, Any]:
        """A full-width row header; its panels are `width` by `height` unless they say otherwise."""
        self.width, self.height = width, height
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
        width: int | None = None,
        height: int | None = None,
        stack: bool = False,
        thresholds: list[tuple[float, str]] | None = None,
    ) -> dict[str, Any]:
        """A panel of `kind`; the kinds Switchboard draws have their own names below."""
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
            "gridPos": self.place(width or self.width, height or self.height),
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

    timeseries = partialmethod(panel, "timeseries")
    stat = partialmethod(panel, "stat")
    table = partialmethod(panel, "table")
    piechart = partialmethod(panel, "piechart")
    bargauge = partialmethod(panel, "bargauge")


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


def mix(
    g: Layout, counter: str, by: str, over_time: tuple[str, str], share: tuple[str, str]
) -> list[dict[str, Any]]:
    """A counter per label as a stacked rate over time, then as each label's share of the range."""
    legend = value_of(by)
    return [
        g.timeseries(
            *over_time,
            [target(per_second(counter, by), legend)],
            unit="reqps",
            stack=True,
        ),
        g.piechart(*share, [target(per_interval(counter, by, "$__range"), legend)]),
    ]


def pipeline() -> dict[str, Any]:
    """Pipeline flow: intake per source, each stage's throughput and latency, lag, dead letters."""
    g = Layout()
    panels = [
        g.row("Health", width=8, height=4),
        g.stat(
            "Services up",
            "1 when Prometheus can scrape the service.",
            [target('up{job=~"ingest|classifier|router"}', "{{job}} {{instance}}")],
            thresholds=[(0, "red"), (1, "green")],
        ),
        g.stat(
            "Ingest Kafka producer",
            "1 when each ingest replica's producer is started.",
            [target("switchboard_ingest_kafka_producer_up", "{{instance}}")],
            thresholds=[(0, "red"), (1, "green")],
        ),
        g.stat(
            "Ingest writes awaiting Kafka",
            "Records handed to the producer, not yet acknowledged; at the in-flight limit intake answers 503.",
            [target("sum(switchboard_ingest_in_flight)")],
        ),
        g.row("Intake"),
        g.timeseries(
            "Accepted mentions by source",
            "Mentions written to Kafka and acknowledged, per second.",
            [target(per_second("switchboard_ingest_accepted_total", "source"), "{{source}}")],
            unit="reqps",
            stack=True,
        ),
        g.timeseries(
            "Accepted mentions by door",
            "API, batch, webhooks and pull connectors.",
            [target(per_second("switchboard_ingest_accepted_total", "via"), "{{via}}")],
            unit="reqps",
            stack=True,
        ),
        g.timeseries(
            "Duplicates and rejections",
            "Duplicates by source; 4xx refusals by reason.",
            [
                target(
                    per_second("switchboard_ingest_duplicates_total", "source"),
                    "duplicate {{source}}",
                ),
                target(
                    per_second("switchboard_ingest_rejected_total", "reason"), "rejected {{reason}}"
                ),
            ],
            unit="reqps",
        ),
        g.timeseries(
            "Refused with 503 by cause",
            "Mentions refused because Kafka could not take them (alert: IngestRefusingWith503).",
            [target(per_second("switchboard_ingest_unavailable_total", "cause"), "{{cause}}")],
            unit="reqps",
            thresholds=[(0.001, "red")],
        ),
        g.timeseries(
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
        g.timeseries(
            "Pull connector errors",
            "Fetch, parse and connection failures per connector.",
            [
                target(
                    per_second("switchboard_ingest_connector_errors_total", "connector"),
                    "{{connector}}",
                )
            ],
            unit="reqps",
        ),
        g.row("Stages"),
        g.timeseries(
            "Throughput per stage",
            "Mentions per second through each stage: equal lines mean nothing is piling up between them.",
            [
                target(per_second(counter), legend)
                for counter, legend in (
                    ("switchboard_ingest_accepted_total", "ingest accepted"),
                    ("switchboard_classifier_consumed_total", "classifier consumed"),
                    ("switchboard_classifier_classified_total", "classifier classified"),
                    ("switchboard_router_consumed_total", "router consumed"),
                    ("switchboard_router_queued_total", "router queued"),
                    ("switchboard_router_duplicates_total", "router duplicates"),
                )
            ],
            unit="reqps",
        ),
        g.timeseries(
            "Delay from ingest (p50 / p95)",
            "Time from ingest accepting a mention to the classifier writing it and to the router queuing it (alert: PipelineSlow).",
            [
                *percentiles(
                    "switchboard_classifier_received_to_classified_seconds", name="classified"
                ),
                *percentiles("switchboard_router_received_to_queued_seconds", name="queued"),
            ],
            unit="s",
            thresholds=[(10, "red")],
        ),
        g.timeseries(
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
        g.timeseries(
            "Batch time (p95)",
            "Classifier: classify a batch and have Kafka acknowledge it. Router: store a batch, publish, commit.",
            [
                target(quantile(0.95, f"switchboard_{stage}_batch_seconds"), f"{stage} batch")
                for stage in ("classifier", "router")
            ],
            unit="s",
        ),
        g.timeseries(
            "Consumer lag",
            "Messages each consumer group has still to read, per topic (Strimzi Kafka Exporter; alert: ConsumerLagGrowing).",
            [
                target(
                    'sum by (consumergroup, topic) (kafka_consumergroup_lag{consumergroup=~"switchboard-.+"})',
                    "{{consumergroup}} on {{topic}}",
                )
            ],
        ),
        g.timeseries(
            "Router: own lag and outbox",
            "Classified mentions the router members have still to handle (their own gauge), and events waiting in the outbox.",
            [
                target("sum(switchboard_router_consumer_lag_records)", "router lag (records)"),
                target("max(switchboard_router_outbox_backlog)", "outbox backlog"),
            ],
        ),
        g.timeseries(
            "Retries",
            "Classifier batches re-written to Kafka; router batches retried by what failed (alert: RouterRetrying).",
            [
                target(
                    per_second("switchboard_classifier_produce_retries_total"), "classifier produce"
                ),
                target(
                    per_second("switchboard_router_retries_total", "failed"), "router {{failed}}"
                ),
            ],
            unit="reqps",
        ),
        g.row("Dead letters", width=24),
        g.timeseries(
            "Dead letters by stage and reason",
            "Records sent to mentions.deadletter.v1 in each interval (alerts: *DeadLettersGrowing).",
            [
                target(
                    per_interval("switchboard_ingest_deadlettered_total", "source, reason"),
                    "ingest {{source}} {{reason}}",
                ),
                *(
                    target(
                        per_interval(f"switchboard_{stage}_deadlettered_total", "reason"),
                        f"{stage} {{{{reason}}}}",
                    )
                    for stage in ("classifier", "router")
                ),
            ],
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
    depth = target("max by (queue) (switchboard_router_queue_depth)", "{{queue}}")
    oldest = target(
        "max by (queue) (switchboard_router_queue_oldest_item_age_seconds)", "{{queue}}"
    )
    g = Layout()
    panels = [
        g.row("Now", width=8, height=5),
        g.stat(
            "Oldest unclaimed critical (emergency queue)",
            "Age of the oldest unclaimed item in the emergency queue; the critical SLA is 60 s to claim (alert: CriticalMentionUnclaimedPastSla).",
            [target('max(switchboard_router_queue_oldest_item_age_seconds{queue="emergency"})')],
            unit="s",
            thresholds=[(30, "orange"), (60, "red")],
        ),
        g.stat(
            "Open items",
            "Unclaimed items over all queues.",
            [target("sum(max by (queue) (switchboard_router_queue_depth))")],
        ),
        g.stat(
            "Critical mentions queued (last hour)",
            "Critical mentions the router placed in the last hour.",
            [target('sum(increase(switchboard_router_queued_total{urgency="critical"}[1h]))')],
            thresholds=[(1, "orange")],
        ),
        g.row("Per queue"),
        g.bargauge("Open items by queue", "Unclaimed items per queue, now.", [depth]),
        g.bargauge(
            "Oldest unclaimed item by queue",
            "Age of the oldest unclaimed item per queue, now. SLAs: critical 60 s, high 5 min, normal 1 h.",
            [oldest],
            unit="s",
            thresholds=[(300, "orange"), (3600, "red")],
        ),
        g.timeseries("Queue depth over time", "Unclaimed items per queue.", [depth]),
        g.timeseries(
            "Oldest unclaimed age over time",
            "Age of the oldest unclaimed item per queue (alerts: *MentionUnclaimedPastSla).",
            [oldest],
            unit="s",
            thresholds=[(60, "orange"), (300, "red")],
        ),
        g.timeseries(
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
        g.table(
            "Open items by queue and urgency",
            "Unclaimed items per queue and urgency, now.",
            [
                target(
                    "max by (queue, urgency) (switchboard_router_queue_depth_by_urgency) > 0",
                    "{{queue}} {{urgency}}",
                )
            ],
        ),
        g.row("Work", width=8),
        *(
            g.timeseries(
                f"Time to {step} (p50 / p95) by urgency",
                description,
                percentiles(f"switchboard_router_time_to_{step}_seconds", "urgency"),
                unit="s",
            )
            for step, description in (
                (
                    "claim",
                    "From queued to claimed by an officer or by assignment. SLAs: critical 60 s, high 5 min, normal 1 h.",
                ),
                ("acknowledge", "From queued to acknowledged."),
                ("resolve", "From queued to resolved."),
            )
        ),
        g.timeseries(
            "SLA breaches by queue and deadline",
            "Items that missed their claim or acknowledge deadline, per interval (alert: SlaBreachesRepeated).",
            [
                target(
                    per_interval("switchboard_router_sla_breaches_total", "queue, breach"),
                    "{{queue}} {{breach}}",
                )
            ],
            stack=True,
            thresholds=[(1, "red")],
        ),
        g.timeseries(
            "Escalations by queue and tier",
            "SLA ladder tiers fired, per interval.",
            [
                target(
                    per_interval("switchboard_router_escalations_total", "queue, tier"),
                    "{{queue}} tier {{tier}}",
                )
            ],
            stack=True,
        ),
        g.timeseries(
            "Expired claims by queue",
            "Claims whose lease ran out and went back to the pool: officers claiming and walking away.",
            [target(per_interval("switchboard_router_expired_claims_total", "queue"), "{{queue}}")],
            stack=True,
        ),
        g.row("Arrivals"),
        *(
            g.timeseries(
                f"Items queued by {by}",
                f"New queue items per second by {by}.",
                [target(per_second("switchboard_router_queued_total", by), value_of(by))],
                unit="reqps",
                stack=True,
            )
            for by in ("urgency", "queue")
        ),
        g.table(
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
        g.timeseries(
            "Answered share by queue (last 24 h) and target",
            "Share of the last day's answerable mentions (answerable source, not spam, not a "
            "duplicate) with a sent reply, and the policy's target (replies.answered_target).",
            [
                target("max by (queue) (switchboard_router_answered_share)", "{{queue}}"),
                target("max by (queue) (switchboard_router_answered_target)", "target {{queue}}"),
            ],
            unit="percentunit",
        ),
        g.timeseries(
            "First response (p50 / p90) by queue",
            "From the citizen's post to the platform confirming our first reply.",
            percentiles("switchboard_router_first_response_seconds", "queue", (0.5, 0.9)),
            unit="s",
        ),
        g.timeseries(
            "Reply steps and outcomes",
            "Replies written, approved, rejected and handed to the responder, and what the "
            "responder reported (sent, failed, unknown: a person looks before any retry).",
            [
                target(per_interval("switchboard_router_reply_steps_total", "step"), "{{step}}"),
                target(
                    per_interval("switchboard_router_reply_outcomes_total", "status"),
                    "reported {{status}}",
                ),
            ],
        ),
        g.timeseries(
            "Citizens' answers and echoes",
            "Answers to our replies joined to their items' threads, and our own posts brought "
            "back by connectors (dropped, never queued).",
            [
                target(
                    per_interval("switchboard_router_citizen_answers_total", "source"),
                    "answers {{source}}",
                ),
                target(per_interval("switchboard_router_echoes_dropped_total"), "echoes dropped"),
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
        *mix(
            g,
            "switchboard_classifier_classified_total",
            "urgency",
            ("Urgency over time", "Mentions classified per second by urgency."),
            (
                "Urgency share (time range)",
                "Share of each urgency over the dashboard's time range.",
            ),
        ),
        *mix(
            g,
            "switchboard_classifier_topic_tags_total",
            "topic",
            ("Topics over time", "Topic labels attached per second (a mention can carry several)."),
            (
                "Topic share (time range)",
                "Share of each topic label over the dashboard's time range.",
            ),
        ),
        g.row("Rules"),
        g.table(
            "Rule set in use",
            "The classifier's rule set version on each replica; two versions at once means a rollout is under way (or stuck).",
            [
                target(
                    "max by (version, instance) (switchboard_classifier_ruleset_info)",
                    "{{version}} {{instance}}",
                )
            ],
        ),
        g.timeseries(
            "Replicas per rule set version",
            "How many classifier replicas run each rule set version.",
            [target("count by (version) (switchboard_classifier_ruleset_info)", "{{version}}")],
        ),
        g.timeseries(
            "Classifier dead letters by reason",
            "Records the classifier could not classify.",
            [
                target(
                    per_interval("switchboard_classifier_deadlettered_total", "reason"),
                    "{{reason}}",
                )
            ],
            width=24,
            thresholds=[(1, "red")],
        ),
        g.row("Shadow"),
        g.timeseries(
            "Shadow disagreements by urgency",
            "Mentions whose candidate (shadow) urgency differs from the published one, "
            "as live -> shadow; empty when no shadow model is configured.",
            [
                target(
                    per_interval(
                        "switchboard_classifier_shadow_disagreements_total", "live, shadow"
                    ),
                    "{{live}} -> {{shadow}}",
                )
            ],
        ),
        g.timeseries(
            "Criticals the shadow would raise or drop",
            "Would-be criticals: the candidate says critical, the live model does not. "
            "Dropped: published as critical, not critical for the candidate (a promotion risk).",
            [
                target(
                    per_interval("switchboard_classifier_shadow_would_be_critical_total"),
                    "would be critical",
                ),
                target(
                    per_interval("switchboard_classifier_shadow_critical_dropped_total"),
                    "critical dropped",
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


def incidents() -> dict[str, Any]:
    """Incidents and paging: open incidents and their size, how members are linked, and what
    the notifier sent, suppressed and failed to send per channel."""
    # The open-incidents gauge is read from the one database by every router replica at the
    # scrape, so replicas are combined with max, never summed (as the queue gauges).
    open_now = target("max(switchboard_router_incidents_open)", "open")
    g = Layout()
    panels = [
        g.row("Incidents", width=8, height=6),
        g.stat(
            "Open incidents",
            "Incidents with a member still open, now.",
            [open_now],
            thresholds=[(1, "orange")],
        ),
        g.stat(
            "Largest incident (last hour)",
            "The most members an incident had when a member was linked in the last hour "
            "(upper bound of the histogram bucket).",
            [
                target(
                    "histogram_quantile(1, sum by (le) "
                    "(increase(switchboard_router_incident_members_bucket[1h])))"
                )
            ],
        ),
        g.stat(
            "Members linked (last hour)",
            "Mentions linked to an incident automatically or confirmed by an officer in the last hour.",
            [
                target(
                    'sum(increase(switchboard_router_incident_links_total{link=~"automatic|confirmed"}[1h]))'
                )
            ],
        ),
        g.row("Members"),
        g.timeseries("Open incidents over time", "Incidents with a member still open.", [open_now]),
        g.timeseries(
            "Members per incident (p50 / p95)",
            "An incident's member count each time a member is linked: big values are one "
            "event many people report.",
            percentiles("switchboard_router_incident_members"),
        ),
        g.timeseries(
            "Links by kind",
            "Mentions linked per interval: automatic, suggested (an officer decides), and "
            "the officers' decisions (confirmed, rejected). Many rejections: the clustering "
            "joins what it should not.",
            [
                target(
                    per_interval("switchboard_router_incident_links_total", "link"),
                    "{{link}}",
                )
            ],
            stack=True,
            width=24,
        ),
        g.row("Notifications"),
        g.timeseries(
            "Notifications sent by channel",
            "Tries that were delivered, per second, by channel.",
            [
                target(
                    per_second('switchboard_notifier_sends_total{outcome="delivered"}', "channel"),
                    "{{channel}}",
                )
            ],
            unit="reqps",
            stack=True,
        ),
        g.timeseries(
            "Pages and suppressed escalations",
            "Escalations that paged (a new wave: first sight, urgency rose, member count "
            "crossed a step) and those that paged nobody, by reason.",
            [
                target(per_interval("switchboard_notifier_waves_total"), "paged (waves)"),
                target(
                    per_interval("switchboard_notifier_suppressed_total", "reason"),
                    "suppressed {{reason}}",
                ),
            ],
        ),
        g.timeseries(
            "Failed and unknown sends by channel",
            "Tries that failed for good, that will be retried, and sends nobody knows were "
            "delivered (alerts: NotifierChannelFailing, NotifierSendsUnknown).",
            [
                target(
                    per_interval(
                        'switchboard_notifier_sends_total{outcome!="delivered"}', "channel, outcome"
                    ),
                    "{{channel}} {{outcome}}",
                )
            ],
            stack=True,
            thresholds=[(1, "red")],
        ),
        g.timeseries(
            "Consecutive failures by channel",
            "Tries of each channel that failed in a row; 0 after a delivery "
            "(alert: NotifierChannelFailing at 3 for 5 minutes).",
            [
                target(
                    "max by (channel) (switchboard_notifier_channel_consecutive_failures)",
                    "{{channel}}",
                )
            ],
            thresholds=[(3, "red")],
        ),
        g.timeseries(
            "Send time by channel (p95)",
            "Time of one try of a send, by channel.",
            [
                target(
                    quantile(0.95, "switchboard_notifier_send_seconds", "channel"),
                    "{{channel}}",
                )
            ],
            unit="s",
        ),
        g.timeseries(
            "Time to acknowledge (p50 / p95) by urgency",
            "From queued to acknowledged by an officer (the router's histogram: the notifier "
            "exports no acknowledgement time of its own).",
            percentiles("switchboard_router_time_to_acknowledge_seconds", "urgency"),
            unit="s",
        ),
        g.timeseries(
            "Pending pages cancelled by an acknowledgement",
            "Later steps and repeats that did not go out because someone acknowledged first.",
            [target(per_interval("switchboard_notifier_cancelled_total"), "cancelled")],
        ),
    ]
    return dashboard(
        "switchboard-incidents",
        "Switchboard · Incidents and paging",
        "One event, many reports: open incidents and their size, how members are linked, and "
        "the notifications sent, suppressed and failed per channel.",
        panels,
    )


DASHBOARDS = {
    "pipeline": pipeline,
    "queues": queues,
    "classification": classification,
    "incidents": incidents,
}


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
