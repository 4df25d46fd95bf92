import dataclasses
import json

import numpy as np
import pytest

from switchboard_classifier import evaluation
from switchboard_classifier import model as model_module
from switchboard_classifier.combine import Classifier
from switchboard_classifier.meaning import DIMENSION, budget_share
from switchboard_classifier.model import ModelError, TextModel
from switchboard_classifier.rules import Ruleset

SHARE = 0.1


@pytest.fixture(scope="module")
def model_with_meaning_head():
    records = evaluation.gold("train")[:240]
    return model_module.train(records, meaning_share=SHARE)


@pytest.fixture(scope="module")
def ruleset():
    return Ruleset.load()


@pytest.fixture(scope="module")
def test_texts():
    return [r["text"] for r in evaluation.gold("test")[:100]]


def test_a_model_trained_with_a_meaning_share_keeps_its_head_and_share_through_save_and_load(
    model_with_meaning_head, tmp_path
):
    model_with_meaning_head.save(tmp_path)
    loaded = TextModel.load(tmp_path)
    assert loaded.meaning is not None
    assert loaded.meaning.weights.shape == (DIMENSION, 4 + len(loaded.topic_labels))
    assert np.allclose(loaded.meaning.weights, model_with_meaning_head.meaning.weights, atol=1e-6)
    assert loaded.meaning_share == SHARE
    assert json.loads((tmp_path / "model.json").read_text())["meaning"]["share"] == SHARE


def test_a_model_trained_with_no_meaning_share_has_no_head():
    records = evaluation.gold("train")[:120]
    assert model_module.train(records, meaning_share=0).meaning is None


def test_a_meaning_head_of_the_wrong_shape_is_refused(model_with_meaning_head, tmp_path):
    broken = dataclasses.replace(
        model_with_meaning_head,
        meaning=model_module.MeaningHead(
            weights=np.zeros((DIMENSION - 1, 4 + len(model_with_meaning_head.topic_labels))),
            bias=model_with_meaning_head.meaning.bias,
        ),
    )
    broken.save(tmp_path)  # a consistent sha256, but weights that cannot be right
    with pytest.raises(ModelError, match="meaning weights have shape"):
        TextModel.load(tmp_path)


def test_the_cascade_refines_at_most_its_share_of_a_batch_and_says_so(
    model_with_meaning_head, ruleset, test_texts
):
    classifier = Classifier(ruleset=ruleset, model=model_with_meaning_head)
    decisions = classifier.decide(test_texts)
    refined = [d for d in decisions if any(h.rule == "meaning" for h in d.reasons)]
    assert 1 <= len(refined) <= SHARE * len(test_texts)


def test_a_zero_share_classifies_exactly_as_the_ngram_model_alone(
    model_with_meaning_head, ruleset, test_texts
):
    without_head = dataclasses.replace(model_with_meaning_head, meaning=None)
    off = Classifier(ruleset=ruleset, model=model_with_meaning_head, meaning_share=0)
    assert off.cascade is None
    assert off.decide(test_texts) == Classifier(ruleset=ruleset, model=without_head).decide(
        test_texts
    )


def test_refined_mentions_take_the_average_of_both_heads(model_with_meaning_head, test_texts):
    classifier = Classifier(ruleset=Ruleset.load(), model=model_with_meaning_head)
    cheap = model_with_meaning_head.predict(test_texts)
    refined, rows = classifier.cascade.refine(test_texts, ["en"] * len(test_texts), cheap)
    assert rows
    second = model_with_meaning_head.meaning.predict(
        classifier.cascade.encoder.encode([test_texts[i] for i in rows]).astype(np.float64)
    )
    assert np.allclose(
        refined.urgency[list(rows)], (cheap.urgency[list(rows)] + second.urgency) / 2
    )
    untouched = [i for i in range(len(test_texts)) if i not in rows]
    assert np.array_equal(refined.urgency[untouched], cheap.urgency[untouched])


def test_the_budget_share_keeps_the_stage_at_its_target_rate():
    share = budget_share(cheap_per_second=12_000, encoder_per_second=450, target_per_second=10_000)
    per_mention = 1 / 12_000 + share / 450
    assert per_mention == pytest.approx(1 / 10_000)
    assert budget_share(9_000, 450, 10_000) == 0.0
