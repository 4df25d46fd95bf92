"""Officers' verdicts become labelled records by the documented mapping (feedback-1)."""

from datetime import UTC, datetime, timedelta

from switchboard_classifier.feedback import (
    FEEDBACK_DATASET,
    MAPPING_VERSION,
    FeedbackLedger,
    merge,
    records_sha256,
)
from switchboard_shared.events import (
    Classification,
    MentionClassified,
    MentionFeedback,
    MentionIn,
    MentionRouted,
    RoutedAction,
    Urgency,
)

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def classified(source_id: str, text: str, urgency: Urgency, topics=("fire",)) -> MentionClassified:
    mention = MentionIn(source="sms", source_id=source_id, text=text, created_at=T0)
    return MentionClassified(
        mention_id=mention.mention_id,
        received_at=T0,
        mention=mention,
        classification=Classification(
            urgency=urgency, score=0.9, topics=topics, ruleset_version="r1", language="en"
        ),
    )


def resolved(event: MentionClassified, disposition: str, at=T0) -> MentionRouted:
    return MentionRouted(
        mention_id=event.mention_id,
        item_id=1,
        queue_id="q",
        action=RoutedAction.RESOLVED,
        rule="r",
        urgency=event.classification.urgency,
        at=at,
        details={"disposition": disposition, "note": None},
    )


def corrected(event: MentionClassified, at=T0, **change) -> MentionFeedback:
    return MentionFeedback(
        mention_id=event.mention_id,
        item_id=1,
        officer_id="o-1",
        original_urgency=event.classification.urgency,
        original_topics=event.classification.topics,
        ruleset_version="r1",
        at=at,
        **change,
    )


def label(*steps, event: MentionClassified) -> dict | None:
    """The record one mention's verdicts give, the text seen after the verdicts (as read from Kafka)."""
    ledger = FeedbackLedger(source="kafka://test")
    for step in steps:
        if isinstance(step, MentionRouted):
            ledger.add_routed(step)
        else:
            ledger.add_correction(step)
    ledger.add_classified(event)
    records = ledger.records()
    return records[0] if records else None


def test_a_false_alarm_is_a_low_hard_negative_without_the_topics_the_officer_rejected():
    event = classified("1", "this mixtape is fire", Urgency.HIGH)
    record = label(resolved(event, "false_alarm"), event=event)
    assert record is not None
    assert (record["text"], record["urgency"], record["hard_negative"]) == (
        "this mixtape is fire",
        "low",
        True,
    )
    assert "topics" not in record
    assert record["lang"] == "en"
    provenance = record["provenance"]
    assert provenance["dataset"] == FEEDBACK_DATASET
    assert provenance["record_id"] == event.mention_id
    assert provenance["mapping_version"] == MAPPING_VERSION
    assert provenance["repository"] == "kafka://test"
    assert provenance["licence"] and provenance["disposition"] == "false_alarm"


def test_no_action_on_a_raised_mention_is_normal_and_on_a_routine_one_low():
    raised = classified("2", "smoke from the chimney", Urgency.HIGH)
    routine = classified("3", "the bin was not collected", Urgency.NORMAL, ("infrastructure",))
    assert label(resolved(raised, "no_action"), event=raised) | {"provenance": None} == {
        "text": "smoke from the chimney",
        "lang": "en",
        "urgency": "normal",
        "topics": ["fire"],
        "hard_negative": False,
        "provenance": None,
    }
    record = label(resolved(routine, "no_action"), event=routine)
    assert (record["urgency"], record["topics"]) == ("low", ["infrastructure"])


def test_actioned_confirms_the_classified_urgency_and_topics():
    event = classified("4", "house on fire on Birch St", Urgency.CRITICAL)
    record = label(resolved(event, "actioned"), event=event)
    assert (record["urgency"], record["topics"], record["hard_negative"]) == (
        "critical",
        ["fire"],
        False,
    )


def test_referred_and_duplicate_say_nothing_and_give_no_record_unless_corrected():
    event = classified("5", "road closed by the bridge", Urgency.NORMAL)
    ledger = FeedbackLedger(source="s")
    ledger.add_routed(resolved(event, "referred"))
    ledger.add_classified(event)
    assert ledger.records() == []
    assert ledger.skipped == {"no_label": 1}
    record = label(
        resolved(event, "duplicate"), corrected(event, urgency=Urgency.HIGH), event=event
    )
    assert record["urgency"] == "high"


def test_a_correction_outranks_the_disposition_and_the_latest_of_each_wins():
    event = classified("6", "kids throwing fireworks at cars", Urgency.LOW, ("noise_nuisance",))
    later = T0 + timedelta(minutes=5)
    record = label(
        corrected(event, at=later, urgency=Urgency.HIGH, topics=("property_crime",)),
        corrected(event, at=T0, urgency=Urgency.NORMAL),  # older: loses though read later
        resolved(event, "no_action"),
        event=event,
    )
    assert (record["urgency"], record["topics"]) == ("high", ["property_crime"])
    assert record["provenance"]["corrected"] is True


def test_a_verdict_on_a_mention_whose_text_was_never_seen_is_skipped_and_counted():
    event = classified("7", "text only the classified topic had", Urgency.HIGH)
    ledger = FeedbackLedger(source="s")
    ledger.add_routed(resolved(event, "false_alarm"))
    assert ledger.wants_text(event.mention_id)
    assert ledger.records() == []
    assert ledger.skipped == {"no_text": 1}


def test_classified_mentions_without_a_verdict_are_not_kept():
    ledger = FeedbackLedger(source="s")
    ledger.add_classified(classified("8", "an ordinary mention", Urgency.LOW))
    assert ledger.mentions == {}


def test_an_item_of_the_router_export_gives_its_disposition_and_the_corrections_in_its_audit():
    ledger = FeedbackLedger(source="router-export:items.jsonl")
    item = {
        "item_id": 12,
        "mention_id": "m-12",
        "urgency": "high",
        "topics": ["fire"],
        "text": "this beat is fire",
        "disposition": "false_alarm",
        "resolved_at": "2026-12-01T12:00:00+00:00",
        "ruleset_version": "r1",
        "mention": {"language": "en"},
        "audit": [
            {"action": "claimed", "actor": "o-1", "at": "2026-12-01T11:00:00+00:00", "details": {}},
            {
                "action": "feedback",
                "actor": "o-1",
                "at": "2026-12-01T11:30:00+00:00",
                "details": {"urgency": None, "topics": ["irrelevant"], "comment": "a song"},
            },
        ],
    }
    redacted = {**item, "mention_id": "m-13", "text": "", "redacted_at": "2026-12-02T00:00:00Z"}
    ledger.add_item(item)
    ledger.add_item(redacted)
    (record,) = ledger.records()
    assert record["provenance"]["record_id"] == "m-12"
    assert (record["urgency"], record["topics"], record["hard_negative"]) == (
        "low",
        ["irrelevant"],
        True,
    )
    assert record["lang"] == "en"
    assert ledger.skipped == {"no_text": 1}


def test_feedback_replaces_corpus_records_of_the_same_text_whatever_the_case_and_spacing():
    corpus = [
        {"text": "This  beat is FIRE", "urgency": "high"},
        {"text": "house on fire", "urgency": "critical"},
    ]
    feedback = [{"text": "this beat is fire", "urgency": "low", "hard_negative": True}]
    merged, replaced = merge(corpus, feedback)
    assert replaced == 1
    assert merged == [corpus[1], feedback[0]]
    assert records_sha256(merged) == records_sha256([dict(r) for r in merged])
    assert records_sha256(merged) != records_sha256(corpus)
