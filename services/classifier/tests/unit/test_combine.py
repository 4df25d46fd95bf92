import pytest

from switchboard_classifier.combine import Classifier
from switchboard_classifier.model import TextModel
from switchboard_classifier.place import Places
from switchboard_classifier.rules import Ruleset
from switchboard_shared.events import MentionIn, Urgency


@pytest.fixture(scope="module")
def classifier():
    return Classifier(ruleset=Ruleset.load(), model=TextModel.load(), places=Places.load())


def test_reasons_point_at_the_words_that_fired(classifier):
    (c,) = classifier.classify_texts(["someone just got shot outside the Shell on 5th and Main"])
    assert c.urgency is Urgency.CRITICAL
    fired = {r.rule: r.matched for r in c.reasons}
    assert fired["topics.active_threat"] == ("just got shot",)
    assert "active_threat" in c.topics and c.topic_scores["active_threat"] >= 0.5
    assert c.location is not None and c.location.text == "5th and Main"
    assert (c.language, c.district) == ("en", "Harbor")
    assert c.ruleset_version == classifier.ruleset.version
    assert c.model_version == classifier.model.version


@pytest.mark.parametrize(
    "text",
    ["this new album is fire", "killing it at the fundraiser tonight", "I'm dying lol"],
)
def test_the_model_cannot_raise_an_idiom(classifier, text):
    (c,) = classifier.classify_texts([text])
    assert c.urgency in (Urgency.LOW, Urgency.NORMAL)


def test_a_critical_rule_hit_is_never_lowered_silently_by_the_model():
    class Doubtful(TextModel):
        def predict(self, texts):
            p = super().predict(texts)
            p.urgency[:] = [0.0, 0.0, 0.0, 1.0]  # the model is sure it is nothing
            return p

    base = TextModel.load()
    doubtful = Doubtful(base.kinds, base.bias, base.topic_labels, base.meta)
    shots = ["Shots fired near the school right now"]
    # Without a lowering threshold (a classifier's own policy, or a model trained before
    # there was one), the rule's critical stands whatever the model says.
    never = Classifier(ruleset=Ruleset.load(), model=doubtful, use_model_policy=False)
    assert never.classify_texts(shots)[0].urgency is Urgency.CRITICAL
    # The shipped model brings the threshold its cross-validation chose: when it lowers a
    # critical hit, the mention says so, next to the rule that fired.
    (result,) = Classifier(ruleset=Ruleset.load(), model=doubtful).classify_texts(shots)
    rules = {r.rule for r in result.reasons}
    assert result.urgency is Urgency.CRITICAL or "model_lowered_critical" in rules
    assert "topics.active_threat" in rules


def test_a_language_without_a_pack_is_classified_by_the_model_with_its_code(classifier):
    (c,) = classifier.classify_texts(
        ["Die Nachbarn feiern schon wieder bis 4 Uhr mit lauter Musik"]
    )
    assert c.language == "de"
    assert not any(r.rule.startswith("topics.") for r in c.reasons)
    assert c.model_version is not None


def test_mentions_bring_their_geo_point_and_stated_language(classifier):
    m = MentionIn(
        source="app",
        source_id="1",
        text="help, he is not breathing",
        created_at="2026-11-29T22:00:00Z",
        language="en",
        geo={"lat": 40.05, "lon": -74.96},
    )
    (c,) = classifier.classify_mentions([m])
    assert c.urgency is Urgency.CRITICAL
    assert c.location is not None and c.location.how == "geo"
    assert c.district == "Northside"


def _fixed(probabilities):
    class Fixed(TextModel):
        def predict(self, texts):
            p = super().predict(texts)
            p.urgency[:] = probabilities
            return p

    base = TextModel.load()
    return Fixed(base.kinds, base.bias, base.topic_labels, base.meta)


@pytest.mark.parametrize(
    ("probabilities", "expected"),
    [
        ([0.55, 0.15, 0.15, 0.15], Urgency.HIGH),  # unsure of critical: high, not critical
        ([0.75, 0.10, 0.10, 0.05], Urgency.CRITICAL),  # sure enough
    ],
)
def test_the_model_alone_needs_more_confidence_to_raise_to_critical(probabilities, expected):
    # "my husband hasn't come back" is a missing person (high) by the rules; the
    # model may raise it one level, to critical only when it is sure.
    # The threshold is this classifier's own, not the one the shipped model was trained with.
    c = Classifier(
        ruleset=Ruleset.load(),
        model=_fixed(probabilities),
        critical_confidence=0.6,
        use_model_policy=False,
    )
    (result,) = c.classify_texts(["my husband went hiking and hasn't come back"], languages=["en"])
    assert result.urgency is expected
    # the model's reason is there exactly when the model raised the mention
    assert ("model" in [r.rule for r in result.reasons]) is (expected is Urgency.CRITICAL)


def test_cross_validation_classifies_each_record_by_a_model_that_never_saw_it(monkeypatch):
    from switchboard_classifier import evaluation, model

    records = [
        {"text": f"{word} number {i}", "urgency": label, "topics": [topic]}
        for i, (word, label, topic) in enumerate(
            [("shots", "critical", "active_threat"), ("thanks", "low", "praise")] * 6
        )
    ]
    seen: list[set[str]] = []
    real_train = model.train

    def recording_train(fitted, **kwargs):
        seen.append({r["text"] for r in fitted})
        return real_train(fitted, **kwargs)

    monkeypatch.setattr(model, "train", recording_train)
    classified: list[tuple[set[str], list[str]]] = []
    real_classify = Classifier.classify_texts

    def recording_classify(self, texts, **kwargs):
        classified.append((seen[-1], list(texts)))
        return real_classify(self, texts, **kwargs)

    monkeypatch.setattr(Classifier, "classify_texts", recording_classify)
    report = evaluation.cross_validate(Classifier(ruleset=Ruleset.load()), records, folds=3)
    assert len(seen) == 3 and report["records"] == 12
    assert sorted(t for _, texts in classified for t in texts) == sorted(r["text"] for r in records)
    for training, texts in classified:
        assert not training & set(texts)
    assert report["cross_validation"] == {"folds": 3, "seed": 7}


def _rules_say(text):
    from switchboard_classifier.rules import evaluate as run_rules

    return run_rules(Ruleset.load(), text, "en").urgency


BIKE = "my bike was stolen from the rack last week"


def test_a_sure_model_may_lower_a_non_critical_rule_urgency_only_when_the_policy_lets_it():
    assert _rules_say(BIKE) is Urgency.NORMAL
    sure_nothing = _fixed([0.0, 0.0, 0.05, 0.95])
    rules_first = Classifier(ruleset=Ruleset.load(), model=sure_nothing, use_model_policy=False)
    trusting = Classifier(
        ruleset=Ruleset.load(), model=sure_nothing, lower_confidence=0.8, use_model_policy=False
    )
    (kept,) = rules_first.classify_texts([BIKE], languages=["en"])
    (lowered,) = trusting.classify_texts([BIKE], languages=["en"])
    assert kept.urgency is Urgency.NORMAL
    assert lowered.urgency is Urgency.LOW
    assert [r.label for r in lowered.reasons if r.rule == "model"] == ["low"]
    unsure = Classifier(
        ruleset=Ruleset.load(),
        model=_fixed([0.0, 0.1, 0.2, 0.7]),
        lower_confidence=0.8,
        use_model_policy=False,
    )
    assert unsure.classify_texts([BIKE], languages=["en"])[0].urgency is Urgency.NORMAL


def test_a_critical_rule_hit_is_never_lowered_even_when_the_model_may_lower():
    c = Classifier(
        ruleset=Ruleset.load(),
        model=_fixed([0.0, 0.0, 0.0, 1.0]),
        lower_confidence=0.5,
        use_model_policy=False,
    )
    (result,) = c.classify_texts(["Shots fired near the school right now"], languages=["en"])
    assert result.urgency is Urgency.CRITICAL


SHOTS = "Shots fired near the school right now"


def test_a_critical_rule_hit_is_lowered_only_by_a_model_sure_enough_and_never_silently():
    def classifier(probabilities, lower_critical):
        return Classifier(
            ruleset=Ruleset.load(),
            model=_fixed(probabilities),
            lower_critical_confidence=lower_critical,
            use_model_policy=False,
        )

    sure_low = [0.0, 0.0, 0.03, 0.97]
    (lowered,) = classifier(sure_low, 0.95).classify_texts([SHOTS], languages=["en"])
    assert lowered.urgency is Urgency.LOW
    said = [r for r in lowered.reasons if r.rule == "model_lowered_critical"]
    assert [(r.label, r.matched) for r in said] == [("low", ("0.97",))]  # the officer sees why
    assert any(r.rule == "topics.active_threat" for r in lowered.reasons)  # and the rule's call
    # Not sure enough, or no threshold at all: the rule's critical stands.
    assert classifier(sure_low, 0.98).classify_texts([SHOTS], languages=["en"])[0].urgency is (
        Urgency.CRITICAL
    )
    assert classifier(sure_low, None).classify_texts([SHOTS], languages=["en"])[0].urgency is (
        Urgency.CRITICAL
    )
    # Never lowered to high (still pulled out for an officer: lowering would hide the call).
    sure_high = [0.0, 0.99, 0.01, 0.0]
    assert classifier(sure_high, 0.5).classify_texts([SHOTS], languages=["en"])[0].urgency is (
        Urgency.CRITICAL
    )


def test_the_lowering_of_critical_hits_a_model_was_trained_with_is_followed():
    model = _fixed([0.0, 0.0, 0.02, 0.98])
    model.meta["combination"] = {"lower_critical_confidence": 0.9}
    c = Classifier(ruleset=Ruleset.load(), model=model)
    assert c.policy.lower_critical_confidence == 0.9
    assert c.classify_texts([SHOTS], languages=["en"])[0].urgency is Urgency.LOW
    model.meta["combination"] = {"lower_confidence": 0.8}  # a model from before: never
    assert Classifier(ruleset=Ruleset.load(), model=model).policy.lower_critical_confidence is None


def test_a_sure_model_may_raise_past_one_level_only_when_the_policy_lets_it():
    sure_critical = _fixed([0.95, 0.05, 0.0, 0.0])
    one_level = Classifier(ruleset=Ruleset.load(), model=sure_critical, use_model_policy=False)
    any_level = Classifier(
        ruleset=Ruleset.load(),
        model=sure_critical,
        raise_any_confidence=0.9,
        use_model_policy=False,
    )
    assert one_level.classify_texts([BIKE], languages=["en"])[0].urgency is Urgency.HIGH
    assert any_level.classify_texts([BIKE], languages=["en"])[0].urgency is Urgency.CRITICAL


def test_the_policy_a_model_was_trained_with_is_the_one_it_is_combined_with():
    model = _fixed([0.0, 0.0, 0.05, 0.95])
    model.meta["combination"] = {"lower_confidence": 0.8, "raise_any_confidence": None}
    c = Classifier(ruleset=Ruleset.load(), model=model, lower_confidence=None)
    assert c.policy.lower_confidence == 0.8
    assert c.classify_texts([BIKE], languages=["en"])[0].urgency is Urgency.LOW
