"""Promotion makes a candidate live only when it loses no critical recall; rollback undoes it."""

import json
import os

import pytest

from switchboard_classifier.combine import Classifier
from switchboard_classifier.model import TextModel, train
from switchboard_classifier.promotion import (
    ModelsDirectory,
    PromotionError,
    judge,
    promote,
    rollback,
)
from switchboard_classifier.rules import Ruleset

# No English pack: the model alone decides, so the two models below differ.
MODEL_ONLY = Ruleset.from_yaml(
    'version: "model-only"\npacks:\n  xx:\n    topics: {praise: [zzqxv]}\n'
)
EMERGENCIES = ["shots fired at the school", "gunman shooting in the street", "shots fired downtown"]
CHATTER = ["thank you officers", "lovely day at the park", "nice coffee this morning"]
EVALUATION = [
    *({"text": t, "urgency": "critical", "lang": "en"} for t in EMERGENCIES),
    *({"text": t, "urgency": "low", "lang": "en"} for t in CHATTER),
]


def model_where_emergencies_are(urgency: str, tag: str) -> TextModel:
    records = [{"text": t, "urgency": urgency} for t in EMERGENCIES]
    records += [{"text": t, "urgency": "low"} for t in CHATTER]
    records += [{"text": "a cat stuck up a tree", "urgency": "normal"}]
    return train(records * 2, data_hash=tag * 64)


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """Three model directories: two that catch the emergencies and one that misses them."""
    root = tmp_path_factory.mktemp("candidates")
    made = {}
    for name, urgency, tag in (
        ("first", "critical", "a"),
        ("better", "critical", "b"),
        ("worse", "low", "c"),
    ):
        model = model_where_emergencies_are(urgency, tag)
        model.meta["version"] = f"{name}-{model.version}"  # trained in the same second
        model.save(root / name)
        made[name] = root / name
    return made


def classifier() -> Classifier:
    return Classifier(ruleset=MODEL_ONLY)


def start_with(tmp_path, first) -> ModelsDirectory:
    directory = ModelsDirectory(tmp_path / "models")
    live = TextModel.load(first)
    directory.install(first, live)
    directory.point_live_at(live.version)
    return directory


def test_a_candidate_that_keeps_critical_recall_goes_live_and_is_logged(tmp_path, models):
    directory = start_with(tmp_path, models["first"])
    first, better = TextModel.load(models["first"]), TextModel.load(models["better"])

    entry = promote(
        directory, models["better"], classifier=classifier(), sets={"blind": EVALUATION}, by="sup-1"
    )

    assert entry["promoted"] is True and entry["action"] == "promote"
    assert directory.live_version() == better.version
    assert os.readlink(directory.live) == f"versions/{better.version}"
    assert TextModel.load(directory.live).version == better.version
    (logged,) = [json.loads(line) for line in directory.log.read_text().splitlines()]
    assert logged == entry
    assert logged["before"] == {
        "version": first.version,
        "training_data_sha256": "a" * 64,
        "training_records": first.meta["training_records"],
    }
    assert logged["after"]["training_data_sha256"] == "b" * 64
    assert logged["by"] == "sup-1" and logged["at"]
    assert logged["figures"]["blind"]["candidate"]["critical_recall"] == 1.0
    assert logged["figures"]["blind"]["live"]["critical_support"] == 3


def test_a_candidate_that_misses_criticals_the_live_model_catches_is_refused_and_logged(
    tmp_path, models
):
    directory = start_with(tmp_path, models["first"])
    first = TextModel.load(models["first"])

    entry = promote(
        directory,
        models["worse"],
        classifier=classifier(),
        sets={"blind": EVALUATION, "cross": EVALUATION[:4]},
        by="sup-1",
    )

    assert entry["promoted"] is False and entry["action"] == "refused"
    assert directory.live_version() == first.version
    assert any("blind: critical recall drops from 1.0 to 0.0" in r for r in entry["reasons"])
    assert directory.history() == [entry]
    assert directory.live_stack() == []  # a refusal changes nothing to roll back


def test_rollback_returns_to_the_model_before_the_last_promotion_and_logs_it(tmp_path, models):
    directory = start_with(tmp_path, models["first"])
    first, better = TextModel.load(models["first"]), TextModel.load(models["better"])
    promote(directory, models["better"], classifier=classifier(), sets={"b": EVALUATION}, by="s")

    entry = rollback(directory, by="sup-2")

    assert directory.live_version() == first.version
    assert (entry["action"], entry["before"]["version"], entry["after"]["version"]) == (
        "rollback",
        better.version,
        first.version,
    )
    assert directory.history()[-1] == entry
    with pytest.raises(PromotionError, match="no promotion to roll back"):
        rollback(directory, by="sup-2")


def test_a_rollback_to_a_model_whose_files_were_altered_is_refused(tmp_path, models):
    directory = start_with(tmp_path, models["first"])
    first = TextModel.load(models["first"])
    promote(directory, models["better"], classifier=classifier(), sets={"b": EVALUATION}, by="s")
    for path in (directory.versions / first.version).iterdir():
        path.write_bytes(b"altered")

    with pytest.raises(PromotionError, match="cannot be used"):
        rollback(directory, by="s")
    assert directory.live_version() == TextModel.load(models["better"]).version


def test_promoting_the_live_model_or_an_unreadable_one_is_an_error(tmp_path, models):
    directory = start_with(tmp_path, models["first"])
    with pytest.raises(PromotionError, match="live already"):
        promote(directory, models["first"], classifier=classifier(), sets={"b": EVALUATION}, by="s")
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "model.json").write_text("{")
    with pytest.raises(PromotionError, match="candidate cannot be used"):
        promote(
            directory, tmp_path / "junk", classifier=classifier(), sets={"b": EVALUATION}, by="s"
        )
    assert directory.history() == []


def test_judge_needs_a_set_and_skips_sets_without_criticals():
    live = {"calm": {"critical_support": 0, "critical_recall": 0.0}}
    assert judge(live, live).accepted is True
    assert judge({}, {}).accepted is False
    drop = judge(
        {"a": {"critical_support": 4, "critical_recall": 1.0}},
        {"a": {"critical_support": 4, "critical_recall": 0.75}},
    )
    assert (drop.accepted, drop.reasons) == (False, ("a: critical recall drops from 1.0 to 0.75",))
