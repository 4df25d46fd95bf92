"""Records in, records out: decoding, classifying in batches, dead-lettering.

Free of faust and Kafka so it is tested as plain functions; the agent in
`app.py` only feeds it bytes and sends what it returns. A batch is decoded
record by record (anything undecodable is dead-lettered with its reason) and
the decoded mentions are classified together; if classifying the batch
raises, each mention is retried alone so only the one that fails is
dead-lettered.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import ValidationError

from switchboard_classifier.combine import Classifier
from switchboard_shared.deadletters import dead_letter_of
from switchboard_shared.events import (
    Classification,
    DeadLetter,
    DeadLetterReason,
    MentionClassified,
    MentionReceived,
)
from switchboard_shared.logs import describe_invalid
from switchboard_shared.topics import RAW

STAGE = "classifier"


@dataclass(frozen=True)
class SourceRecord:
    """Where a raw record was read from, for the dead-letter report."""

    topic: str
    partition: int
    offset: int
    value: bytes | None


def _dead(record: SourceRecord, reason: str, error: str, mention_id: str | None) -> DeadLetter:
    return dead_letter_of(record, stage=STAGE, reason=reason, error=error, mention_id=mention_id)


def decode(record: SourceRecord) -> MentionReceived | DeadLetter:
    """The received mention in a raw record, or why there is none."""
    if record.value is None:
        return _dead(record, DeadLetterReason.EMPTY, "record has no value", None)
    try:
        # pydantic-core parses and validates in one pass; the slower look at the
        # bare JSON is only for the records that fail, to say why.
        received = RAW.value.model_validate_json(record.value)
    except ValidationError:
        pass
    else:
        assert isinstance(received, MentionReceived)
        return received
    try:
        payload = json.loads(record.value)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return _dead(record, DeadLetterReason.NOT_JSON, str(exc), None)
    found_id = payload.get("mention_id") if isinstance(payload, dict) else None
    mention_id = found_id if isinstance(found_id, str) else None
    try:
        RAW.value.model_validate(payload)
    except ValidationError as exc:
        return _dead(record, DeadLetterReason.SCHEMA, describe_invalid(exc), mention_id)
    # Valid as Python values yet not as JSON text (NaN, say, which json.loads
    # accepts and JSON does not): a record must never vanish, so say so.
    return _dead(record, DeadLetterReason.SCHEMA, "not valid as JSON text (NaN?)", mention_id)


def _classified(received: MentionReceived, classification: Classification) -> MentionClassified:
    return MentionClassified(
        mention_id=received.mention_id,
        received_at=received.received_at,
        mention=received.mention,
        classification=classification,
    )


def process_batch(
    classifier: Classifier, records: Sequence[SourceRecord]
) -> list[MentionClassified | DeadLetter]:
    """Classify a batch of raw records, in order; dead-letter what cannot be classified."""
    decoded = [decode(record) for record in records]
    good = [(i, d) for i, d in enumerate(decoded) if isinstance(d, MentionReceived)]
    out: list[MentionClassified | DeadLetter] = [
        d if isinstance(d, DeadLetter) else _dead(records[i], "pending", "", None)
        for i, d in enumerate(decoded)
    ]
    try:
        results = classifier.classify_mentions([d.mention for _, d in good])
        for (i, received), classification in zip(good, results, strict=True):
            out[i] = _classified(received, classification)
    except Exception:  # one bad mention must not sink the batch: find it alone
        for i, received in good:
            try:
                (classification,) = classifier.classify_mentions([received.mention])
                out[i] = _classified(received, classification)
            except Exception as exc:  # a rule or model that raises must not stop the stream
                out[i] = _dead(
                    records[i],
                    DeadLetterReason.RULE_ERROR,
                    f"{type(exc).__name__}: {exc}",
                    received.mention_id,
                )
    return out


def process(classifier: Classifier, record: SourceRecord) -> MentionClassified | DeadLetter:
    """Classify one raw record, or say why it cannot be."""
    (result,) = process_batch(classifier, [record])
    return result
