"""Officers' verdicts as labelled training records: the classifier learns from its users.

Two kinds of verdict reach the classifier. A correction (`MentionFeedback` on
`mentions.feedback.v1`) says what the urgency or topics should have been. A
disposition (the `resolved` step of an item on `mentions.routed.v1`, or the
`disposition` of a row in the router's store) says what came of the mention.
Neither carries the mention's text, so a `FeedbackLedger` also takes the
classified mentions (`mentions.classified.v1`) or the router's item rows
(which hold the text) and joins them by mention id.

How a verdict becomes a label (mapping `feedback-1`; bump MAPPING_VERSION on
any change, every record names the version it was made by):

- a correction's urgency and topics are the label, whatever the disposition
  (an officer who says "this was high" said more than "resolved");
- `false_alarm`: urgency `low`, `hard_negative` true (it looked alarming and
  was not); its topics are left out unless corrected, since the ones the
  classifier gave are what the officer rejected;
- `no_action`: nothing needed doing, yet the mention was real. Raised as
  `critical` or `high` it becomes `normal` (a real matter, just not urgent:
  not a hard negative, or the model would learn to bury real reports);
  raised as `normal` or `low` it becomes `low`. Topics are kept;
- `actioned`: the classified urgency and topics are confirmed;
- `referred` and `duplicate` say nothing about urgency: no record, unless corrected.

The latest correction and the latest disposition of a mention win (by their
time). A mention whose text is unknown (never seen on the classified topic,
or blanked by retention) gives no record; `FeedbackLedger.skipped` counts why.
Pure: plain data in, plain records out; no Kafka, no database.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from switchboard_shared.events import (
    Disposition,
    MentionClassified,
    MentionFeedback,
    MentionRouted,
    RoutedAction,
    Urgency,
)

FEEDBACK_DATASET = "officer-feedback"
MAPPING_VERSION = "feedback-1"
FEEDBACK_LICENCE = "agency-internal: the agency's own mentions and officers' verdicts"
URGENT = (Urgency.CRITICAL, Urgency.HIGH)


class Skipped(StrEnum):
    """Why a mention with a verdict gave no training record (the keys of `skipped`)."""

    NO_TEXT = "no_text"  # its text was never seen, or retention blanked it
    NO_LABEL = "no_label"  # referred or duplicate, uncorrected: says nothing


@dataclass
class _Mention:
    """What is known of one mention: its text, the classifier's verdict, the officers'."""

    text: str | None = None
    language: str | None = None
    classified_urgency: Urgency | None = None
    classified_topics: tuple[str, ...] | None = None
    correction: MentionFeedback | None = None
    disposition: Disposition | None = None
    disposition_at: datetime | None = None


@dataclass
class FeedbackLedger:
    """Collects verdicts and texts by mention id, in any order, and turns them into records."""

    source: str  # where the verdicts were read, recorded in every record's provenance
    mentions: dict[str, _Mention] = field(default_factory=dict)
    skipped: Counter[str] = field(default_factory=Counter)

    def _of(self, mention_id: str) -> _Mention:
        return self.mentions.setdefault(mention_id, _Mention())

    def wants_text(self, mention_id: str) -> bool:
        """True when a verdict on this mention is known and its text is not yet."""
        known = self.mentions.get(mention_id)
        return known is not None and known.text is None

    def add_correction(self, event: MentionFeedback) -> None:
        """An officer's correction; the latest one of a mention wins."""
        known = self._of(event.mention_id)
        if known.correction is None or event.at >= known.correction.at:
            known.correction = event
        if known.classified_urgency is None:
            known.classified_urgency = event.original_urgency
            known.classified_topics = event.original_topics

    def add_disposition(
        self, mention_id: str, disposition: str, at: datetime, urgency: Urgency | None = None
    ) -> None:
        """How an item was closed; unknown dispositions are ignored, the latest known one wins."""
        try:
            value = Disposition(disposition)
        except ValueError:
            return
        known = self._of(mention_id)
        if known.disposition_at is None or at >= known.disposition_at:
            known.disposition, known.disposition_at = value, at
        if known.classified_urgency is None and urgency is not None:
            known.classified_urgency = urgency

    def add_routed(self, event: MentionRouted) -> None:
        """A router step: only `resolved` ones, which carry the disposition, count."""
        disposition = event.details.get("disposition")
        if event.action is RoutedAction.RESOLVED and isinstance(disposition, str):
            self.add_disposition(event.mention_id, disposition, event.at, event.urgency)

    def add_classified(self, event: MentionClassified) -> None:
        """The text and the classifier's verdict of a mention (kept only for mentions with a verdict)."""
        known = self.mentions.get(event.mention_id)
        if known is None:
            return
        known.text = event.mention.text
        known.language = event.classification.language or event.mention.language
        known.classified_urgency = event.classification.urgency
        known.classified_topics = event.classification.topics

    def add_item(self, row: dict[str, Any]) -> None:
        """One item of the router's store as its API shows it (`GET /v1/items/{id}`).

        The row holds the text, the classified urgency and topics and the
        disposition; its audit trail (when exported with it) holds the
        officers' corrections as `feedback` steps.
        """
        mention_id = str(row["mention_id"])
        item_id = int(row.get("item_id", row.get("id", 0)) or 0)
        urgency = Urgency(row["urgency"])
        topics = tuple(row.get("topics") or ())
        for step in row.get("audit") or ():
            if step.get("action") != RoutedAction.FEEDBACK.value:
                continue
            details = step.get("details") or {}
            corrected = details.get("topics")
            self.add_correction(
                MentionFeedback(
                    mention_id=mention_id,
                    item_id=item_id,
                    officer_id=str(step.get("actor", "")),
                    original_urgency=urgency,
                    original_topics=topics,
                    urgency=details.get("urgency"),
                    topics=tuple(corrected) if corrected is not None else None,
                    comment=None,  # free text an officer wrote is not training data
                    ruleset_version=str(row.get("ruleset_version", "")),
                    at=step["at"],
                )
            )
        if row.get("disposition"):
            at = row.get("resolved_at") or row.get("updated_at") or row.get("queued_at")
            self.add_disposition(mention_id, str(row["disposition"]), _time(at), urgency)
        known = self.mentions.get(mention_id)
        if known is None:
            return
        text = row.get("text")
        # Retention blanks the text of old items and stamps `redacted_at`.
        if isinstance(text, str) and text.strip() and not row.get("redacted_at"):
            known.text = text
        language = (row.get("mention") or {}).get("language")
        known.language = known.language or language
        known.classified_urgency, known.classified_topics = urgency, topics

    def records(self) -> list[dict[str, Any]]:
        """The training records (gold format, with provenance), in mention-id order."""
        self.skipped.clear()
        out = []
        for mention_id in sorted(self.mentions):
            known = self.mentions[mention_id]
            label = label_for(known)
            if label is None:
                self.skipped[Skipped.NO_LABEL] += 1
                continue
            if known.text is None:
                self.skipped[Skipped.NO_TEXT] += 1
                continue
            record: dict[str, Any] = {"text": known.text}
            if known.language:
                record["lang"] = known.language.split("-")[0]
            record.update(label)
            record["provenance"] = {
                "dataset": FEEDBACK_DATASET,
                "repository": self.source,
                "commit": "",
                "record_id": mention_id,
                "licence": FEEDBACK_LICENCE,
                "mapping_version": MAPPING_VERSION,
                "disposition": known.disposition.value if known.disposition else None,
                "corrected": known.correction is not None,
            }
            out.append(record)
        return out


def _time(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))


def label_for(known: _Mention) -> dict[str, Any] | None:
    """The label the officers' verdicts on one mention give (module docstring), or None."""
    urgency: Urgency | None = None
    topics: tuple[str, ...] | None = None
    disposition = known.disposition
    if disposition is Disposition.FALSE_ALARM:
        urgency = Urgency.LOW
    elif disposition is Disposition.NO_ACTION:
        urgency = Urgency.NORMAL if known.classified_urgency in URGENT else Urgency.LOW
        topics = known.classified_topics
    elif disposition is Disposition.ACTIONED:
        urgency, topics = known.classified_urgency, known.classified_topics
    if known.correction is not None:
        urgency = known.correction.urgency or urgency
        if known.correction.topics is not None:
            topics = known.correction.topics
    if urgency is None and topics is None:
        return None
    label: dict[str, Any] = {}
    if urgency is not None:
        label["urgency"] = urgency.value
    if topics is not None:
        label["topics"] = list(topics)
    label["hard_negative"] = disposition is Disposition.FALSE_ALARM and urgency not in URGENT
    return label


_SPACE = re.compile(r"\s+")


def text_key(text: str) -> str:
    """What makes two records the same text: case and runs of white space do not."""
    return _SPACE.sub(" ", text).strip().casefold()


def merge(
    corpus: Sequence[dict[str, Any]], feedback: Iterable[dict[str, Any]]
) -> tuple[list[dict[str, Any]], int]:
    """The corpus with the feedback records added; a feedback record replaces any of the same text.

    Officers judged the agency's own mention, so their label wins over a
    corpus label of the same words. Returns the records and how many corpus
    records were replaced.
    """
    by_text = {text_key(r["text"]): r for r in feedback}
    kept = [r for r in corpus if text_key(r["text"]) not in by_text]
    return [*kept, *by_text.values()], len(corpus) - len(kept)


def records_sha256(records: Iterable[dict[str, Any]]) -> str:
    """The sha256 of records as the JSON lines `to_jsonl` writes."""
    return hashlib.sha256(to_jsonl(records).encode()).hexdigest()


def to_jsonl(records: Iterable[dict[str, Any]]) -> str:
    """Records as JSON lines, keys sorted so the same records give the same bytes."""
    return "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in records)
