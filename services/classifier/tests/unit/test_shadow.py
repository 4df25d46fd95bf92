"""A shadow classifier is compared with the live one on every batch and never published."""

import asyncio

from prometheus_client import REGISTRY

from switchboard_classifier import metrics
from switchboard_classifier.app import ClassifierState, classify_batch, maybe_reload
from switchboard_classifier.combine import Classifier
from switchboard_classifier.model import train
from switchboard_classifier.pipeline import SourceRecord
from switchboard_classifier.reload import Reloader, Sources
from switchboard_classifier.settings import ClassifierSettings
from switchboard_classifier.shadow import compare
from switchboard_shared.events import Classification, MentionIn, MentionReceived, Urgency

LIVE_RULES = """
version: "live"
topics:
  active_threat: ['shots fired']
  praise: ['thank you']
  fire: ['smoke']
urgency: {critical_topics: [active_threat], high_topics: [fire], low_topics: [praise]}
"""
# The candidate: shots are only high, smoke is critical, thanks as before.
SHADOW_RULES = """
version: "shadow"
topics:
  violent_crime: ['shots fired']
  praise: ['thank you']
  active_threat: ['smoke']
urgency: {critical_topics: [active_threat], high_topics: [violent_crime], low_topics: [praise]}
"""


def verdict(urgency: Urgency) -> Classification:
    return Classification(urgency=urgency, score=0.9, topics=("x",), ruleset_version="v")


def test_compare_counts_disagreements_by_both_urgencies_and_criticals_raised_or_dropped():
    live = [verdict(u) for u in (Urgency.CRITICAL, Urgency.HIGH, Urgency.LOW, Urgency.LOW)]
    shadow = [verdict(u) for u in (Urgency.HIGH, Urgency.CRITICAL, Urgency.LOW, Urgency.NORMAL)]
    tally = compare(live, shadow)
    assert tally.disagreements == {
        (Urgency.CRITICAL, Urgency.HIGH): 1,
        (Urgency.HIGH, Urgency.CRITICAL): 1,
        (Urgency.LOW, Urgency.NORMAL): 1,
    }
    assert (tally.would_be_critical, tally.critical_dropped) == (1, 1)
    assert tally.shadow_urgency == {
        Urgency.HIGH: 1,
        Urgency.CRITICAL: 1,
        Urgency.LOW: 1,
        Urgency.NORMAL: 1,
    }


def record(offset: int, text: str) -> SourceRecord:
    mention = MentionIn(
        source="x", source_id=str(offset), text=text, created_at="2026-12-01T00:00:00Z"
    )
    value = MentionReceived(mention_id=mention.mention_id, mention=mention).model_dump_json()
    return SourceRecord(topic="raw", partition=0, offset=offset, value=value.encode())


def value(name: str, **labels: str) -> float:
    found = REGISTRY.get_sample_value(name, labels)
    return 0.0 if found is None else found


def shadow_counts() -> dict[str, float]:
    """The shadow counters the stream test reads before and after a batch."""
    disagreement = "switchboard_classifier_shadow_disagreements_total"
    return {
        "lowered": value(disagreement, live="critical", shadow="high"),
        "raised": value(disagreement, live="high", shadow="critical"),
        "would_be": value("switchboard_classifier_shadow_would_be_critical_total"),
        "dropped": value("switchboard_classifier_shadow_critical_dropped_total"),
        "low": value("switchboard_classifier_shadow_classified_total", urgency="low"),
    }


def state_with_shadow(tmp_path) -> ClassifierState:
    (tmp_path / "live.yaml").write_text(LIVE_RULES)
    (tmp_path / "shadow.yaml").write_text(SHADOW_RULES)
    live = Reloader(Sources(ruleset=tmp_path / "live.yaml", use_model=False))
    shadow = Reloader(Sources(ruleset=tmp_path / "shadow.yaml", use_model=False))
    metrics.initialise_shadow()
    return ClassifierState(settings=ClassifierSettings(), reloader=live, shadow=shadow)


def test_the_stream_publishes_the_live_verdicts_and_counts_how_the_shadow_differs(tmp_path):
    state = state_with_shadow(tmp_path)
    records = [
        record(0, "shots fired on the corner"),
        record(1, "smoke pouring out of the shop"),
        record(2, "thank you for the help"),
        SourceRecord(topic="raw", partition=0, offset=3, value=b"not json"),
    ]
    before = shadow_counts()

    outputs = classify_batch(state, records)

    published = [o.classification for o in outputs if hasattr(o, "classification")]
    assert [c.urgency for c in published] == [Urgency.CRITICAL, Urgency.HIGH, Urgency.LOW]
    assert {c.ruleset_version for c in published} == {"live"}
    after = shadow_counts()
    assert {k: after[k] - before[k] for k in before} == {
        "lowered": 1,
        "raised": 1,
        "would_be": 1,
        "dropped": 1,
        "low": 1,
    }


class BrokenShadow(Classifier):
    def classify_mentions(self, mentions):
        raise RuntimeError("the candidate raised")


def test_a_shadow_that_raises_costs_the_live_output_nothing_and_is_counted(tmp_path):
    state = state_with_shadow(tmp_path)
    assert state.shadow is not None
    state.shadow.current = BrokenShadow(ruleset=state.shadow.current.ruleset)
    errors = value("switchboard_classifier_shadow_errors_total")

    (out,) = classify_batch(state, [record(0, "shots fired on the corner")])

    assert out.classification.urgency is Urgency.CRITICAL
    assert value("switchboard_classifier_shadow_errors_total") == errors + 1


def test_a_shadow_model_that_no_longer_loads_is_refused_and_the_last_good_one_kept(tmp_path):
    model = train(
        [
            {"text": "shots fired", "urgency": "critical", "topics": ["active_threat"]},
            {"text": "thank you", "urgency": "low", "topics": ["praise"]},
        ]
        * 3,
        data_hash="cd" * 32,
    )
    model.save(tmp_path / "candidate")
    (tmp_path / "live.yaml").write_text(LIVE_RULES)
    live = Reloader(Sources(ruleset=tmp_path / "live.yaml", use_model=False), interval=0.0)
    shadow = Reloader(
        Sources(ruleset=tmp_path / "live.yaml", model=tmp_path / "candidate"), interval=0.0
    )
    state = ClassifierState(settings=ClassifierSettings(), reloader=live, shadow=shadow)
    metrics.initialise_shadow()
    refused = value("switchboard_classifier_shadow_reloads_total", outcome="refused")
    for path in (tmp_path / "candidate").iterdir():  # tampered or torn: unreadable as a model
        path.write_bytes(b"not a model " + path.read_bytes()[:32])

    asyncio.run(maybe_reload(state))

    assert value("switchboard_classifier_shadow_reloads_total", outcome="refused") == refused + 1
    assert shadow.current.model is not None and shadow.current.model.version == model.version
    (out,) = classify_batch(state, [record(0, "shots fired on the corner")])
    assert out.classification.urgency is Urgency.CRITICAL
