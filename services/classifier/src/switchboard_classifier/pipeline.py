"""One record in, one record out: decoding, classifying, dead-lettering.

Free of faust and Kafka so it is tested as plain functions; the agent in
`app.py` only feeds it bytes and sends what it returns.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from pydantic import ValidationError

from switchboard_classifier.rules import Ruleset, classify_mention
from switchboard_shared.events import DeadLetter, MentionClassified, MentionReceived
from switchboard_shared.topics import RAW

STAGE = "classifier"
MAX_RAW_IN_DEADLETTER = 64_000


@dataclass(frozen=True)
class SourceRecord:
    """Where a raw record was read from, for the dead-letter report."""

    topic: str
    partition: int
    offset: int
    value: bytes | None


def _describe(exc: ValidationError) -> str:
    first = exc.errors()[0]
    field = ".".join(str(part) for part in first["loc"]) or "(root)"
    return f"{field}: {first['msg']}"


def _dead(record: SourceRecord, reason: str, error: str, mention_id: str | None) -> DeadLetter:
    raw = (record.value or b"").decode("utf-8", errors="replace")[:MAX_RAW_IN_DEADLETTER]
    return DeadLetter(
        stage=STAGE,
        reason=reason,
        error=error,
        source_topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        mention_id=mention_id,
        raw_payload=raw,
    )


def process(ruleset: Ruleset, record: SourceRecord) -> MentionClassified | DeadLetter:
    """Classify one raw record, or say why it cannot be."""
    if record.value is None:
        return _dead(record, "empty", "record has no value", None)
    try:
        payload = json.loads(record.value)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return _dead(record, "not_json", str(exc), None)
    mention_id = payload.get("mention_id") if isinstance(payload, dict) else None
    try:
        received = RAW.value.model_validate(payload)
    except ValidationError as exc:
        return _dead(
            record, "schema", _describe(exc), mention_id if isinstance(mention_id, str) else None
        )
    assert isinstance(received, MentionReceived)
    try:
        classification = classify_mention(ruleset, received.mention)
    except Exception as exc:  # a rule that raises must not stop the stream
        return _dead(record, "rule_error", f"{type(exc).__name__}: {exc}", received.mention_id)
    return MentionClassified(
        mention_id=received.mention_id,
        received_at=received.received_at,
        mention=received.mention,
        classification=classification,
    )
