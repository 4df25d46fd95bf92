"""The classifier exports every counter series it knows it can produce, at zero, from start-up.

The metrics live in prometheus_client's global registry (one per process), so
other tests may already have counted some series: a series absent before
`initialise` must then read 0, and one already counted must keep its count.
Topics named only in these tests (`metrics_test_...`) cannot have been counted.
"""

import asyncio
import json

from prometheus_client import REGISTRY

from conftest import exposed, series
from services.classifier.tests.doubles import ExplodingClassifier
from switchboard_classifier import metrics
from switchboard_classifier.app import ClassifierState, classify_batch, create_app, maybe_reload
from switchboard_classifier.combine import Classifier
from switchboard_classifier.model import train
from switchboard_classifier.pipeline import SourceRecord
from switchboard_classifier.reload import Reloader, Sources
from switchboard_classifier.rules import IRRELEVANT, Ruleset
from switchboard_classifier.settings import ClassifierSettings
from switchboard_shared.events import DeadLetter, MentionIn, MentionReceived, Urgency

RULES = """
version: "{version}"
topics:
  {topic}: ['shots fired']
  praise: ['thank you']
urgency: {{critical_topics: [{topic}], low_topics: [praise]}}
"""


def topic_tags(topic: str) -> float | None:
    return REGISTRY.get_sample_value("switchboard_classifier_topic_tags_total", {"topic": topic})


def write_rules(path, version, topic):
    path.write_text(RULES.format(version=version, topic=topic))


def test_initialise_exports_the_known_series_at_zero_and_keeps_counts():
    model = train(
        [
            {"text": "shots fired", "urgency": "critical", "topics": ["metrics_test_model"]},
            {"text": "thank you", "urgency": "low", "topics": ["praise"]},
        ]
        * 3,
        data_hash="ab" * 32,
    )
    classifier = Classifier(ruleset=Ruleset.load(), model=model)
    expected = [series("switchboard_classifier_classified_total", urgency=u) for u in Urgency]
    expected += [
        series("switchboard_classifier_deadlettered_total", reason=r)
        for r in metrics.DEAD_LETTER_REASONS
    ]
    expected += [
        series("switchboard_classifier_reloads_total", outcome=o) for o in metrics.ReloadOutcome
    ]
    topics = {*classifier.ruleset.topic_names, "metrics_test_model", "praise", IRRELEVANT}
    expected += [series("switchboard_classifier_topic_tags_total", topic=t) for t in topics]
    assert topic_tags("metrics_test_model") is None
    before = exposed()

    metrics.initialise(classifier)

    after = exposed()
    for s in expected:
        assert s in after, f"{s} not exported"
        assert after[s] == before.get(s, 0.0), f"{s} is {after[s]}"


def received(text: str) -> bytes:
    mention = MentionIn(source="x", source_id="1", text=text, created_at="2026-11-29T22:00:00Z")
    return (
        MentionReceived(mention_id=mention.mention_id, mention=mention).model_dump_json().encode()
    )


def test_every_reason_and_topic_the_stream_counts_was_exported_at_start_up(tmp_path):
    rules = tmp_path / "rules.yaml"
    write_rules(rules, "v1", "metrics_test_stream")
    reloader = Reloader(Sources(ruleset=rules, use_model=False))
    reloader.current = ExplodingClassifier(ruleset=reloader.current.ruleset)
    state = ClassifierState(settings=ClassifierSettings(), reloader=reloader)
    values = [
        None,
        b"not json",
        json.dumps({"mention_id": "m-1"}).encode(),
        received("boom"),
        received("shots fired on the corner"),
        received("thank you"),
        received("the garden gnome parade"),
    ]
    records = [
        SourceRecord(topic="t", partition=0, offset=i, value=v) for i, v in enumerate(values)
    ]
    metrics.initialise(reloader.current)
    at_start = exposed()

    outputs = classify_batch(state, records)

    letters = [o for o in outputs if isinstance(o, DeadLetter)]
    assert sorted(o.reason for o in letters) == sorted(metrics.DEAD_LETTER_REASONS)
    tagged = {t for o in outputs if not isinstance(o, DeadLetter) for t in o.classification.topics}
    assert tagged == {"metrics_test_stream", "praise", IRRELEVANT}
    for letter in letters:
        assert series("switchboard_classifier_deadlettered_total", reason=letter.reason) in at_start
    for topic in tagged:
        assert series("switchboard_classifier_topic_tags_total", topic=topic) in at_start


def test_building_the_app_initialises_the_classifier_in_force(tmp_path):
    rules = tmp_path / "rules.yaml"
    write_rules(rules, "v1", "metrics_test_app_start")
    reloader = Reloader(Sources(ruleset=rules, use_model=False))
    assert topic_tags("metrics_test_app_start") is None

    create_app(ClassifierSettings(classifier_data_dir=tmp_path / "data"), reloader)

    assert topic_tags("metrics_test_app_start") == 0.0
    labels = {"urgency": Urgency.CRITICAL}
    assert REGISTRY.get_sample_value("switchboard_classifier_classified_total", labels) is not None


def test_a_swapped_classifier_brings_its_new_topics_and_reloads_count_by_outcome(tmp_path):
    rules = tmp_path / "rules.yaml"
    write_rules(rules, "v1", "metrics_test_before_reload")
    reloader = Reloader(Sources(ruleset=rules, use_model=False))
    state = ClassifierState(settings=ClassifierSettings(), reloader=reloader)
    metrics.initialise(reloader.current)

    def reloads(outcome: str) -> float:
        value = REGISTRY.get_sample_value(
            "switchboard_classifier_reloads_total", {"outcome": outcome}
        )
        assert value is not None, outcome
        return value

    swapped, refused = reloads("swapped"), reloads("refused")
    write_rules(rules, "v2", "metrics_test_after_reload")
    assert topic_tags("metrics_test_after_reload") is None
    reloader.interval = 0.0

    asyncio.run(maybe_reload(state))

    assert reloader.current.ruleset.version == "v2"
    assert topic_tags("metrics_test_after_reload") == 0.0
    assert (reloads("swapped"), reloads("refused")) == (swapped + 1, refused)

    rules.write_text("version: v3\ntopics: {fire: ['(unclosed']}\n")
    asyncio.run(maybe_reload(state))

    assert reloader.current.ruleset.version == "v2"
    assert (reloads("swapped"), reloads("refused")) == (swapped + 1, refused + 1)
