import logging
import shutil

from switchboard_classifier.reload import Reloader, Sources
from switchboard_classifier.rules import Ruleset
from switchboard_shared.events import Urgency

TEXT = "the garden gnome parade is happening"


def write_rules(path, version, extra_pattern):
    shipped = Ruleset.load()
    path.write_text(
        f'version: "{version}"\n'
        "topics:\n"
        f"  active_threat: ['{extra_pattern}']\n"
        "  praise: ['thank you']\n"
        "urgency: {critical_topics: [active_threat], low_topics: [praise]}\n"
    )
    return shipped


def test_a_changed_rule_set_changes_the_next_classification_without_a_restart(tmp_path):
    rules = tmp_path / "rules.yaml"
    write_rules(rules, "v1", "shots fired")
    clock = {"now": 0.0}
    reloader = Reloader(
        Sources(ruleset=rules, use_model=False), interval=5.0, clock=lambda: clock["now"]
    )
    (before,) = reloader.current.classify_texts([TEXT])
    assert (before.urgency, before.ruleset_version) == (Urgency.LOW, "v1")

    write_rules(rules, "v2", "gnome parade")
    assert reloader.check() is False  # not due yet
    clock["now"] = 6.0
    assert reloader.check() is True
    (after,) = reloader.current.classify_texts([TEXT])
    assert (after.urgency, after.ruleset_version) == (Urgency.CRITICAL, "v2")
    assert ("topics.active_threat", ("gnome parade",)) in [
        (r.rule, r.matched) for r in after.reasons
    ]


def test_an_invalid_new_rule_set_is_refused_and_the_old_one_kept(tmp_path):
    rules = tmp_path / "rules.yaml"
    write_rules(rules, "v1", "shots fired")
    reloader = Reloader(Sources(ruleset=rules, use_model=False))
    rules.write_text("version: v2\ntopics: {fire: ['(unclosed']}\n")
    assert reloader.check(force=True) is False
    assert reloader.failures == 1
    assert reloader.current.ruleset.version == "v1"


def test_a_new_rule_set_with_an_unbounded_wildcard_is_refused_with_its_reason(tmp_path, caplog):
    # `is .* still closed` backtracks over the whole text for every "is ": refused at load.
    rules = tmp_path / "rules.yaml"
    write_rules(rules, "v1", "shots fired")
    reloader = Reloader(Sources(ruleset=rules, use_model=False))
    write_rules(rules, "v2", "is .* still closed")
    with caplog.at_level(logging.ERROR):
        assert reloader.check(force=True) is False
    assert reloader.current.ruleset.version == "v1"
    assert "topics.active_threat[0]" in caplog.text and "repeats without limit" in caplog.text


def test_a_new_model_directory_is_picked_up(tmp_path):
    from switchboard_classifier.model import TextModel, train

    shipped = TextModel.load()
    model_dir = tmp_path / "model"
    shipped.save(model_dir)
    reloader = Reloader(Sources(model=model_dir))
    assert reloader.current.model.version == shipped.version
    records = [
        {"text": "shots fired", "urgency": "critical", "topics": ["active_threat"]},
        {"text": "thank you", "urgency": "low", "topics": ["praise"]},
    ] * 3
    fresh = train(records, data_hash="cd" * 32)
    shutil.rmtree(model_dir)
    fresh.save(model_dir)
    assert reloader.check(force=True) is True
    assert reloader.current.model.version == fresh.version != shipped.version
