"""What a channel's answer means for a send. Pure: no HTTP client, no database.

A send ends DELIVERED, or is retried (RETRY) when nothing can have been
delivered or the channel dedupes a repeat, or ends FAILED (refused for good,
or out of attempts), or UNKNOWN: the request may have been delivered and the
channel has no idempotency of its own, so sending again could page twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from switchboard_notifier.policy import ChannelKind


class Outcome(StrEnum):
    """How one try of a send ended (the `outcome` label of the sends counter)."""

    DELIVERED = "delivered"
    RETRY = "retry"
    FAILED = "failed"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Attempt:
    """What one try got back: an HTTP status (or SMTP reply code), or none (no answer)."""

    status: int | None
    error: str | None = None
    connected: bool = True  # False: refused before anything was sent
    external_id: str | None = None


def judge(channel: ChannelKind, attempt: Attempt, *, attempts_left: int) -> Outcome:
    """The outcome of one try on `channel`."""
    status = attempt.status
    if status is not None and _delivered(channel, status):
        return Outcome.DELIVERED
    maybe_delivered = status is None and attempt.connected
    if maybe_delivered and not channel.deduplicates:
        return Outcome.UNKNOWN
    retryable = status is None or _transient(channel, status)
    if not retryable:
        return Outcome.FAILED
    return Outcome.RETRY if attempts_left > 0 else Outcome.FAILED


def _transient(channel: ChannelKind, status: int) -> bool:
    # SMTP: 4yz is "try again later", 5yz is final; HTTP: a rate limit or a server error.
    if channel is ChannelKind.EMAIL:
        return 400 <= status < 500
    return status == 429 or status >= 500


def _delivered(channel: ChannelKind, status: int) -> bool:
    if channel is ChannelKind.PAGERDUTY:
        return status == 202
    if channel is ChannelKind.EMAIL:
        return status == 250
    return 200 <= status < 300
