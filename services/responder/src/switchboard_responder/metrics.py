"""The responder's Prometheus metrics, declared once.

`initialise` exports every counter series at zero and every configured
channel's gauges, so the first failure of each kind is visible to `rate()`
and the auth alert. Labels are channels (the source a channel answers) and
the responder's own enums.
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import Counter, Gauge, Histogram

from switchboard_responder.answers import Verdict
from switchboard_shared.events import DeadLetterReason, ReplyStatus
from switchboard_shared.metric_families import Failed as Failed  # the `failed` label
from switchboard_shared.metric_families import dead_letters, retries
from switchboard_shared.metrics import LATENCY_BUCKETS, start_at_zero

# The statuses a ReplyOutcome may carry.
OUTCOME_STATUSES = (
    ReplyStatus.SENDING,
    ReplyStatus.SENT,
    ReplyStatus.FAILED_RETRYABLE,
    ReplyStatus.FAILED_PERMANENT,
    ReplyStatus.UNKNOWN,
)
DEAD_LETTER_REASONS = (DeadLetterReason.EMPTY, DeadLetterReason.NOT_JSON, DeadLetterReason.SCHEMA)
# The channel label of requests for a source with no channel configured.
NO_CHANNEL = "none"


CONSUMED = Counter("switchboard_responder_consumed_total", "Records read from replies.v1.")
OUTCOMES = Counter(
    "switchboard_responder_outcomes_total",
    "Outcomes published on replies.outcomes.v1, by channel and status.",
    ["channel", "status"],
)
REPLAYED = Counter(
    "switchboard_responder_replayed_total",
    "Requests answered from the send ledger without sending (already done, or unknown after a "
    "crash mid-send on a platform without idempotency keys), by channel.",
    ["channel"],
)
PLATFORM_ANSWERS = Counter(
    "switchboard_responder_platform_answers_total",
    "Requests made to a platform, by channel and what their answer meant.",
    ["channel", "verdict"],
)
DEADLETTERED = dead_letters(
    "switchboard_responder_deadlettered_total",
    "Records of replies.v1 sent to the dead-letter topic, by reason.",
)
RETRIES = retries(
    "switchboard_responder_retries_total",
    "Writes retried because Kafka or the database failed, by what failed.",
)
SEND_SECONDS = Histogram(
    "switchboard_responder_send_seconds",
    "Time of one request to a platform, by channel.",
    ["channel"],
    buckets=LATENCY_BUCKETS,
)
CHANNEL_AUTH_ERROR = Gauge(
    "switchboard_responder_channel_auth_error",
    "1 while a channel's credentials are refused (401/403, Meta code 190): its replies wait.",
    ["channel"],
)
CHANNEL_HELD = Gauge(
    "switchboard_responder_channel_rate_limited",
    "1 while a channel waits for its platform's rate-limit window to reset.",
    ["channel"],
)
IN_FLIGHT = Gauge("switchboard_responder_in_flight", "Requests read and not yet finished.")


def initialise(*, channels: Iterable[str]) -> None:
    """Export at zero every counter series the responder can produce, and the channels' gauges."""
    channels = list(channels)
    labels = [*channels, NO_CHANNEL]
    start_at_zero(OUTCOMES, channel=labels, status=OUTCOME_STATUSES)
    start_at_zero(REPLAYED, channel=labels)
    start_at_zero(PLATFORM_ANSWERS, channel=channels, verdict=Verdict)
    start_at_zero(DEADLETTERED, reason=DEAD_LETTER_REASONS)
    start_at_zero(RETRIES, failed=Failed)
    start_at_zero(SEND_SECONDS, channel=channels)
    # A configured channel starts healthy: 0 is a true claim for these gauges.
    for channel in channels:
        CHANNEL_AUTH_ERROR.labels(channel).set(0)
        CHANNEL_HELD.labels(channel).set(0)
    IN_FLIGHT.set(0)
