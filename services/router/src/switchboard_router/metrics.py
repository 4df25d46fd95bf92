"""The router's Prometheus metrics and their label values, declared once.

`initialise` exports at zero every counter series the router knows it can
produce (and the histograms by urgency), so the first event of each is
visible to `rate()` and alerts. Queues come from the routing policy at
start-up and on reload, and from the database at each scrape, so a queue
created since (a new district) has its series before its first breach.
"""

from typing import get_args

from prometheus_client import Counter, Gauge, Histogram, Info

from switchboard_router.incidents.clustering import Link
from switchboard_router.routing.policy import Policy
from switchboard_shared.events import (
    DeadLetterReason,
    MentionEscalated,
    ReplyOutcome,
    RoutedAction,
    Urgency,
)
from switchboard_shared.metric_families import Failed as Failed  # the `failed` label
from switchboard_shared.metric_families import dead_letters, policy_reloads, retries
from switchboard_shared.metrics import LATENCY_BUCKETS, start_at_zero
from switchboard_shared.reload import ReloadOutcome as ReloadOutcome  # the `outcome` label

# The dead-letter reasons the router itself produces.
DEAD_LETTER_REASONS = (
    DeadLetterReason.EMPTY,
    DeadLetterReason.NOT_JSON,
    DeadLetterReason.SCHEMA,
    DeadLetterReason.ROUTING_ERROR,
    DeadLetterReason.STORE_ERROR,
)
# The steps and reported statuses of a reply, as their label values.
REPLY_STEP_LABELS = tuple(a for a in RoutedAction if a.value.startswith("reply_"))
REPLY_STATUSES: tuple[str, ...] = tuple(
    str(s) for s in get_args(ReplyOutcome.model_fields["status"].annotation)
)
# The deadlines an item can miss, as the escalation event names them.
BREACHES: tuple[str, ...] = get_args(MentionEscalated.model_fields["breach"].annotation)

CONSUMED = Counter("switchboard_router_consumed_total", "Classified mentions read from Kafka.")
QUEUED = Counter(
    "switchboard_router_queued_total",
    "New queue items stored, by queue and urgency.",
    ["queue", "urgency"],
)
RATE_LIMITED = Counter(
    "switchboard_router_rate_limited_total",
    "Requests refused with 429 because their bearer token spent its rate limit.",
)
DUPLICATES = Counter(
    "switchboard_router_duplicates_total",
    "Mentions read again (replay or redelivery) that were already queued.",
)
DEADLETTERED = dead_letters(
    "switchboard_router_deadlettered_total", "Records sent to the dead-letter topic, by reason."
)
RETRIES = retries(
    "switchboard_router_retries_total",
    "Batches retried after a database or Kafka failure, by what failed.",
)
BATCH_SECONDS = Histogram(
    "switchboard_router_batch_seconds",
    "Time to store one batch, publish its events and commit its offsets.",
    buckets=LATENCY_BUCKETS,
)
END_TO_END_SECONDS = Histogram(
    "switchboard_router_received_to_queued_seconds",
    "Delay from ingest accepting a mention to its queue item being committed.",
    buckets=LATENCY_BUCKETS,
)
QUEUE_DEPTH = Gauge(
    "switchboard_router_queue_depth", "Open items per queue (read at scrape time).", ["queue"]
)
QUEUE_DEPTH_BY_URGENCY = Gauge(
    "switchboard_router_queue_depth_by_urgency",
    "Open items per queue and urgency (read at scrape time).",
    ["queue", "urgency"],
)
QUEUE_OLDEST_SECONDS = Gauge(
    "switchboard_router_queue_oldest_item_age_seconds",
    "Age of the oldest open item per queue (read at scrape time).",
    ["queue"],
)

# Work on items. Times are measured from when the item was queued.
WORK_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 4 * 3600, 24 * 3600)
TIME_TO_CLAIM = Histogram(
    "switchboard_router_time_to_claim_seconds",
    "Queued to claimed (by an officer or by assignment), by urgency.",
    ["urgency"],
    buckets=WORK_BUCKETS,
)
TIME_TO_ACK = Histogram(
    "switchboard_router_time_to_acknowledge_seconds",
    "Queued to acknowledged, by urgency.",
    ["urgency"],
    buckets=WORK_BUCKETS,
)
TIME_TO_RESOLVE = Histogram(
    "switchboard_router_time_to_resolve_seconds",
    "Queued to resolved, by urgency.",
    ["urgency"],
    buckets=WORK_BUCKETS,
)
SLA_BREACHES = Counter(
    "switchboard_router_sla_breaches_total",
    "Items that missed a claim or acknowledge deadline, by queue and deadline.",
    ["queue", "breach"],
)
ESCALATIONS = Counter(
    "switchboard_router_escalations_total",
    "Escalation tiers fired, by queue (before the step) and tier.",
    ["queue", "tier"],
)
EXPIRED_CLAIMS = Counter(
    "switchboard_router_expired_claims_total",
    "Claims whose lease ran out, returning the item to the pool, by queue.",
    ["queue"],
)
CONSUMER_LAG = Gauge(
    "switchboard_router_consumer_lag_records",
    "Classified mentions on the partition not yet handled by this member, by partition.",
    ["partition"],
)
EVENTS_PUBLISHED = Counter(
    "switchboard_router_outbox_published_total",
    "Events the outbox relay published (work steps, escalations, feedback).",
)
OUTBOX_BACKLOG = Gauge(
    "switchboard_router_outbox_backlog",
    "Events waiting in the outbox (read at scrape time).",
)
# Answers to citizens.
REPLY_STEPS = Counter(
    "switchboard_router_reply_steps_total",
    "Steps on replies (drafted, submitted, approved, rejected, cancelled, retried, "
    "dispatched to the responder), by step.",
    ["step"],
)
REPLY_OUTCOMES = Counter(
    "switchboard_router_reply_outcomes_total",
    "The responder's reports that moved a reply, by the status reported.",
    ["status"],
)
RESPONSE_BUCKETS = (
    30,
    60,
    300,
    600,
    1800,
    3600,
    2 * 3600,
    4 * 3600,
    8 * 3600,
    24 * 3600,
    72 * 3600,
)
FIRST_RESPONSE = Histogram(
    "switchboard_router_first_response_seconds",
    "From the citizen's post to the platform confirming our first reply, by queue, "
    "urgency and source.",
    ["queue", "urgency", "source"],
    buckets=RESPONSE_BUCKETS,
)
RESOLVED_AFTER_POST = Histogram(
    "switchboard_router_post_to_resolve_seconds",
    "From the citizen's post to its item being resolved, by queue, urgency and source.",
    ["queue", "urgency", "source"],
    buckets=RESPONSE_BUCKETS,
)
ANSWERED_SHARE = Gauge(
    "switchboard_router_answered_share",
    "Share of the last 24 hours' answerable mentions (answerable source, not spam, not a "
    "duplicate) with a sent reply, by queue (read every refresh).",
    ["queue"],
)
ANSWERABLE = Gauge(
    "switchboard_router_answerable_mentions",
    "Answerable mentions of the last 24 hours, by queue (read every refresh).",
    ["queue"],
)
ANSWERED_TARGET = Gauge(
    "switchboard_router_answered_target",
    "The answered share the routing policy sets for a queue (replies.answered_target).",
    ["queue"],
)
REPLIES_UNREPORTED = Gauge(
    "switchboard_router_replies_unreported",
    "Replies handed to the responder more than five minutes ago with no report back "
    "(read every refresh): the responder is down, or its reports do not reach the router.",
)
ECHOES_DROPPED = Counter(
    "switchboard_router_echoes_dropped_total",
    "Mentions that were our own sent replies brought back by a connector or webhook.",
)
CITIZEN_ANSWERS = Counter(
    "switchboard_router_citizen_answers_total",
    "Citizens' answers to our replies joined to the item they answer, by source.",
    ["source"],
)
INCIDENTS_OPEN = Gauge("switchboard_router_incidents_open", "Open incidents (read at scrape time).")
INCIDENT_MEMBERS = Histogram(
    "switchboard_router_incident_members",
    "An incident's member count (automatic or confirmed), observed each time a member is linked.",
    buckets=(2, 3, 5, 10, 20, 50, 100, 200, 500),
)
INCIDENT_LINKS = Counter(
    "switchboard_router_incident_links_total",
    "Incident links made by clustering (automatic, suggested) and by people (confirmed, rejected).",
    ["link"],
)
POLICY_RELOADS = policy_reloads(
    "switchboard_router_policy_reloads_total",
    "Routing policy file changes, by outcome (swapped in or refused).",
)
POLICY_VERSION = Info("switchboard_router_policy", "The routing policy version in force.")


def initialise(policy: Policy) -> None:
    """Export at zero the router's known counter series, and those of the policy's queues."""
    start_at_zero(DEADLETTERED, reason=DEAD_LETTER_REASONS)
    start_at_zero(RETRIES, failed=Failed)
    start_at_zero(POLICY_RELOADS, outcome=ReloadOutcome)
    start_at_zero(INCIDENT_LINKS, link=Link)
    for histogram in (TIME_TO_CLAIM, TIME_TO_ACK, TIME_TO_RESOLVE):
        start_at_zero(histogram, urgency=Urgency)
    start_at_zero(REPLY_STEPS, step=REPLY_STEP_LABELS)
    start_at_zero(REPLY_OUTCOMES, status=REPLY_STATUSES)
    start_at_zero(CITIZEN_ANSWERS, source=sorted(s.value for s in policy.replies.limits))
    for queue_id in policy.named_queues:
        initialise_queue(queue_id, policy)


def initialise_queue(queue_id: str, policy: Policy) -> None:
    """Export at zero one queue's counter series: items queued, breaches, escalations, expiries."""
    start_at_zero(QUEUED, queue=[queue_id], urgency=Urgency)
    start_at_zero(EXPIRED_CLAIMS, queue=[queue_id])
    answerable = sorted(s.value for s in policy.replies.limits)
    if answerable:
        start_at_zero(FIRST_RESPONSE, queue=[queue_id], urgency=Urgency, source=answerable)
        start_at_zero(RESOLVED_AFTER_POST, queue=[queue_id], urgency=Urgency, source=answerable)
    slas = {sla for urgency in Urgency if (sla := policy.sla_for(queue_id, urgency))}
    if slas:
        start_at_zero(SLA_BREACHES, queue=[queue_id], breach=BREACHES)
    tiers = max((len(sla.ladder) for sla in slas), default=0)
    start_at_zero(ESCALATIONS, queue=[queue_id], tier=[str(n) for n in range(1, tiers + 1)])
