"""Building a dead letter: the raw record as text, cut to one size limit, and where it was
read. Every stage builds its dead letters here, so the limit and the shape are the same
everywhere; the `DeadLetter` event itself is in the schema module (`events.py`)."""

from __future__ import annotations

from typing import Protocol

from switchboard_shared.events import DeadLetter

# A dead letter keeps this much of the raw record: enough to replay or inspect it, and
# well under Kafka's default 1 MB message limit.
MAX_RAW_IN_DEADLETTER = 64_000


def dead_letter(
    *,
    stage: str,
    reason: str,
    error: str,
    raw: bytes | str | None,
    mention_id: str | None,
    source_topic: str | None = None,
    partition: int | None = None,
    offset: int | None = None,
) -> DeadLetter:
    """A dead letter with the raw record as text (bytes that are not UTF-8 replaced),
    cut at MAX_RAW_IN_DEADLETTER characters."""
    text = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else (raw or "")
    return DeadLetter(
        stage=stage,
        reason=reason,
        error=error,
        source_topic=source_topic,
        partition=partition,
        offset=offset,
        mention_id=mention_id,
        raw_payload=text[:MAX_RAW_IN_DEADLETTER],
    )


class ReadRecord(Protocol):
    """A record as a stage read it from a topic (aiokafka's `ConsumerRecord` is one)."""

    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...
    @property
    def value(self) -> bytes | None: ...


def dead_letter_of(
    record: ReadRecord, *, stage: str, reason: str, error: str, mention_id: str | None
) -> DeadLetter:
    """The dead letter of a record read from a topic: its value, and where it was read."""
    return dead_letter(
        stage=stage,
        reason=reason,
        error=error,
        raw=record.value,
        mention_id=mention_id,
        source_topic=record.topic,
        partition=record.partition,
        offset=record.offset,
    )
