"""The notifier's Prometheus metrics, declared once.

`initialise` exports every counter series at zero and each channel's gauge, so
the first failure of each kind is visible to `rate()` and the alerts. Labels
are channel kinds and the notifier's own enums.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from switchboard_notifier.answers import Outcome
from switchboard_notifier.grouping import SuppressReason
from switchboard_notifier.policy import ChannelKind
from switchboard_shared.events import DeadLetterReason
from switchboard_shared.metric_families import Failed as Failed  # the `failed` label
from switchboard_shared.metric_families import dead_letters, policy_reloads, retries
from switchboard_shared.metrics import LATENCY_BUCKETS, start_at_zero
from switchboard_shared.reload import ReloadOutcome

DEAD_LETTER_REASONS = (DeadLetterReason.EMPTY, DeadLetterReason.NOT_JSON, DeadLetterReason.SCHEMA)


CONSUMED = Counter(
    "switchboard_notifier_consumed_total", "Records read from mentions.escalated.v1."
)
WAVES = Counter(
    "switchboard_notifier_waves_total",
    "Escalations that paged a group (first sight, urgency rose, member count crossed a step).",
)
SUPPRESSED = Counter(
    "switchboard_notifier_suppressed_total",
    "Escalations that paged nobody, by reason (each is a stored row too).",
    ["reason"],
)
SCHEDULED = Counter(
    "switchboard_notifier_scheduled_total", "Sends stored to go out, by channel.", ["channel"]
)
SENDS = Counter(
    "switchboard_notifier_sends_total",
    "Tries of a send, by channel and how they ended.",
    ["channel", "outcome"],
)
CANCELLED = Counter(
    "switchboard_notifier_cancelled_total", "Pending sends cancelled by an acknowledgement."
)
DEADLETTERED = dead_letters(
    "switchboard_notifier_deadlettered_total",
    "Records of mentions.escalated.v1 sent to the dead-letter topic, by reason.",
)
RETRIES = retries(
    "switchboard_notifier_retries_total",
    "Writes retried because Kafka or the database failed, by what failed.",
)
POLICY_RELOADS = policy_reloads(
    "switchboard_notifier_policy_reloads_total",
    "Changed policy files, by outcome (swapped in, or refused and the last good one kept).",
)
SEND_SECONDS = Histogram(
    "switchboard_notifier_send_seconds",
    "Time of one try of a send, by channel.",
    ["channel"],
    buckets=LATENCY_BUCKETS,
)
CHANNEL_FAILING = Gauge(
    "switchboard_notifier_channel_consecutive_failures",
    "Tries of a channel that failed in a row (0 after a delivery): the channel-failing alert.",
    ["channel"],
)


def initialise() -> None:
    """Export at zero every counter series the notifier can produce, and the channels' gauges."""
    CONSUMED.inc(0)
    WAVES.inc(0)
    CANCELLED.inc(0)
    start_at_zero(SUPPRESSED, reason=SuppressReason)
    start_at_zero(SCHEDULED, channel=ChannelKind)
    start_at_zero(SENDS, channel=ChannelKind, outcome=Outcome)
    start_at_zero(DEADLETTERED, reason=DEAD_LETTER_REASONS)
    start_at_zero(RETRIES, failed=Failed)
    start_at_zero(POLICY_RELOADS, outcome=ReloadOutcome)
    start_at_zero(SEND_SECONDS, channel=ChannelKind)
    for channel in ChannelKind:
        CHANNEL_FAILING.labels(channel).set(0)
