import json

import pytest

from services.classifier.tests.doubles import ExplodingClassifier
from switchboard_classifier.combine import Classifier
from switchboard_classifier.pipeline import SourceRecord, process, process_batch
from switchboard_classifier.rules import Ruleset
from switchboard_shared.events import (
    DeadLetter,
    MentionClassified,
    MentionIn,
    MentionReceived,
    Urgency,
)


@pytest.fixture(scope="module")
def ruleset():
    return Classifier(ruleset=Ruleset.load())


def record(value):
    return SourceRecord(topic="mentions.raw.v1", partition=3, offset=42, value=value)


def received_bytes(text="Shots fired near 5th and Main right now"):
    m = MentionIn(source="x", source_id="9", text=text, created_at="2026-11-29T22:00:00Z")
    return MentionReceived(mention_id=m.mention_id, mention=m).model_dump_json().encode()


def test_a_valid_record_is_classified_and_keeps_its_ids(ruleset):
    out = process(ruleset, record(received_bytes()))
    assert isinstance(out, MentionClassified)
    assert out.classification.urgency is Urgency.CRITICAL
    assert out.mention_id == json.loads(received_bytes())["mention_id"]


def test_bytes_that_are_not_json_are_dead_lettered_with_where_they_came_from(ruleset):
    out = process(ruleset, record(b"\xff\xfe not json"))
    assert isinstance(out, DeadLetter)
    assert (out.reason, out.stage, out.partition, out.offset) == ("not_json", "classifier", 3, 42)


def test_json_that_breaks_the_schema_is_dead_lettered_naming_the_field(ruleset):
    payload = json.loads(received_bytes())
    del payload["mention"]["text"]
    out = process(ruleset, record(json.dumps(payload).encode()))
    assert isinstance(out, DeadLetter)
    assert out.reason == "schema"
    assert out.error.startswith("mention.text:")
    assert out.mention_id == payload["mention_id"]
    assert '"source_id"' in out.raw_payload


def test_a_rule_that_raises_dead_letters_the_record_instead_of_stopping(ruleset):
    broken = ExplodingClassifier(ruleset=ruleset.ruleset)
    out = process(broken, record(received_bytes("boom")))
    assert isinstance(out, DeadLetter)
    assert out.reason == "rule_error"
    assert "rule blew up" in out.error


def test_a_batch_dead_letters_only_the_mention_that_fails_and_keeps_order(ruleset):
    broken = ExplodingClassifier(ruleset=ruleset.ruleset)
    records = [
        record(received_bytes("Shots fired near 5th and Main right now")),
        record(received_bytes("boom")),
        record(b"{not json"),
        record(received_bytes("Loud party next door again")),
    ]
    out = process_batch(broken, records)
    assert [type(o).__name__ for o in out] == [
        "MentionClassified",
        "DeadLetter",
        "DeadLetter",
        "MentionClassified",
    ]
    assert (out[1].reason, out[2].reason) == ("rule_error", "not_json")
    assert out[0].classification.urgency is Urgency.CRITICAL


def test_an_empty_record_is_dead_lettered(ruleset):
    out = process(ruleset, record(None))
    assert isinstance(out, DeadLetter)
    assert out.reason == "empty"
