import pytest

from switchboard_classifier.scoring import calibration


def test_scores_that_match_how_often_they_are_right_are_calibrated():
    # 0.85 and right 17 times in 20; 0.25 and right once in 4
    scored = [(0.85, i < 17) for i in range(20)] + [(0.25, i < 1) for i in range(4)]
    report = calibration(scored)
    assert report["ece"] == pytest.approx(0.0, abs=1e-9)
    assert [(b["scores"], b["count"]) for b in report["bins"]] == [("0.2-0.3", 4), ("0.8-0.9", 20)]


def test_overconfident_scores_show_their_gap():
    # always 0.9 sure, right half of the time: a gap of 0.4 everywhere
    report = calibration([(0.9, i % 2 == 0) for i in range(10)])
    assert report["ece"] == pytest.approx(0.4)
    assert report["bins"] == [{"scores": "0.9-1.0", "count": 10, "mean_score": 0.9, "right": 0.5}]


def test_a_score_of_one_falls_in_the_last_bin_and_nothing_scored_has_no_error():
    assert calibration([(1.0, True)])["bins"][0]["scores"] == "0.9-1.0"
    assert calibration([]) == {"ece": None, "bins": []}


def test_a_fitted_calibration_follows_how_often_scores_were_right_and_never_falls():
    from switchboard_classifier.scoring import fit_calibration

    # 0.95 right 60 % of the time, 0.65 right 90 %: the map must not fall, so the
    # two bins are pooled into one point between them.
    scored = [(0.95, i < 60) for i in range(100)] + [(0.65, i < 90) for i in range(100)]
    points = fit_calibration(scored, prior=0.0)["points"]
    assert points == [[0.8, 0.75]]
    ys = [y for _, y in fit_calibration([(0.15, False)] * 20 + [(0.85, True)] * 20)["points"]]
    assert ys == sorted(ys) and ys[0] < 0.15 and ys[-1] > 0.85


def test_the_classifier_reports_calibrated_scores_when_the_model_carries_a_map():
    import dataclasses

    from switchboard_classifier.combine import Classifier
    from switchboard_classifier.model import TextModel
    from switchboard_classifier.rules import Ruleset

    base = TextModel.load()
    flat = dataclasses.replace(
        base, meta={**base.meta, "calibration": {"points": [[0.0, 0.5], [1.0, 0.5]]}}
    )
    plain = dataclasses.replace(
        base, meta={k: v for k, v in base.meta.items() if k != "calibration"}
    )
    texts = ["Shots fired near the school right now", "thank you officers"]
    calibrated = Classifier(ruleset=Ruleset.load(), model=flat).classify_texts(
        texts, languages=["en"] * 2
    )
    raw = Classifier(ruleset=Ruleset.load(), model=plain).classify_texts(
        texts, languages=["en"] * 2
    )
    assert [c.score for c in calibrated] == [0.5, 0.5]
    assert [c.urgency for c in calibrated] == [c.urgency for c in raw]
    assert any(c.score != 0.5 for c in raw)


def test_no_action_mentions_put_in_front_of_an_officer_are_counted():
    from switchboard_classifier.scoring import score, summary
    from switchboard_shared.events import Classification, Urgency

    def said(urgency: Urgency) -> Classification:
        return Classification(
            urgency=urgency, score=0.9, topics=("irrelevant",), ruleset_version="t", language="en"
        )

    records = [{"text": str(i), "urgency": "low", "topics": ["irrelevant"]} for i in range(4)]
    records.append({"text": "x", "urgency": "critical", "topics": ["fire"]})
    predicted = [
        said(Urgency.CRITICAL),  # crying wolf
        said(Urgency.HIGH),  # crying wolf
        said(Urgency.NORMAL),  # an answer, not an alarm
        said(Urgency.LOW),
        said(Urgency.HIGH),  # a missed critical is not a no-action false alarm
    ]
    report = score(records, predicted)
    assert report["no_action"] == {"count": 4, "flagged_critical_or_high": 2, "rate": 0.5}
    assert summary(report)["no_action_flagged"] == 0.5


def test_the_chosen_combination_policy_never_costs_more_false_alarms_than_rules_first():
    from switchboard_classifier.combine import Classifier
    from switchboard_classifier.policy_search import choose_policy
    from switchboard_classifier.rules import Ruleset

    # Emergencies without a lexicon word (only a model can learn them) and chatter
    # with alarm words (the rules over-read it).
    critical = [
        f"my neighbour {i} is on the floor and will not wake up, lips gone blue" for i in range(12)
    ]
    low = [f"that concert {i} was fire, the drummer killed it, dead good night" for i in range(12)]
    records = [
        {"text": t, "urgency": "critical", "topics": ["medical"], "hard_negative": False}
        for t in critical
    ] + [
        {"text": t, "urgency": "low", "topics": ["irrelevant"], "hard_negative": True} for t in low
    ]
    chosen = choose_policy(Classifier(ruleset=Ruleset.load()), records)
    candidates = chosen["candidates"]
    rules_first = candidates[0]
    assert (
        rules_first["lower_confidence"],
        rules_first["raise_any_confidence"],
        rules_first["critical_confidence"],
    ) == (None, None, 0.6)
    best = next(
        c
        for c in candidates
        if (c["lower_confidence"], c["raise_any_confidence"], c["critical_confidence"])
        == (
            chosen["lower_confidence"],
            chosen["raise_any_confidence"],
            chosen["critical_confidence"],
        )
    )
    assert best["critical_recall"] >= rules_first["critical_recall"]
    assert best["critical_recall"] == max(
        c["critical_recall"]
        for c in candidates
        if c["hard_negative_false_alarms"] <= rules_first["hard_negative_false_alarms"]
        and c["no_action_flagged"] <= rules_first["no_action_flagged"]
        and c["macro_f1"] >= rules_first["macro_f1"]
        and (c["critical_precision"] or 0) >= (rules_first["critical_precision"] or 0)
    )
    assert (best["critical_precision"] or 0) >= (rules_first["critical_precision"] or 0)
    assert best["hard_negative_false_alarms"] <= rules_first["hard_negative_false_alarms"]
    assert best["no_action_flagged"] <= rules_first["no_action_flagged"]


def test_a_model_trained_with_a_critical_threshold_brings_it_to_the_classifier():
    import dataclasses

    from switchboard_classifier.combine import Classifier
    from switchboard_classifier.model import TextModel
    from switchboard_classifier.rules import Ruleset

    base = TextModel.load()
    combination = {
        "lower_confidence": 0.7,
        "raise_any_confidence": None,
        "critical_confidence": 0.4,
        "topic_threshold": 0.99,
    }
    trained = dataclasses.replace(base, meta={**base.meta, "combination": combination})
    policy = Classifier(ruleset=Ruleset.load(), model=trained).policy
    assert (policy.lower_confidence, policy.critical_confidence) == (0.7, 0.4)
    assert policy.topic_threshold == 0.99
    # the topic threshold it brings is the one the classifier uses
    eager = dataclasses.replace(
        base, meta={**base.meta, "combination": {**combination, "topic_threshold": 0.1}}
    )
    text = ["the streetlight on my road is out and someone keeps trying car doors"]
    strict_topics = (
        Classifier(ruleset=Ruleset.load(), model=trained)
        .classify_texts(text, languages=["en"])[0]
        .topics
    )
    eager_topics = (
        Classifier(ruleset=Ruleset.load(), model=eager)
        .classify_texts(text, languages=["en"])[0]
        .topics
    )
    assert set(strict_topics) < set(eager_topics)
    own = Classifier(
        ruleset=Ruleset.load(), model=trained, critical_confidence=0.6, use_model_policy=False
    ).policy
    assert own.critical_confidence == 0.6


def test_a_critical_rule_hit_may_be_lowered_only_when_cross_validation_loses_no_emergency():
    from switchboard_classifier.combine import Classifier
    from switchboard_classifier.policy_search import LOWER_CRITICAL_CONFIDENCES, choose_policy
    from switchboard_classifier.rules import Ruleset

    # The lexicon reads "shots fired" in a bar's happy hour as gunfire: a model trained on
    # these mentions knows better, and lowering those hits loses no real emergency.
    real = [
        f"someone fired shots at my window {i} and I am hiding in the bathroom" for i in range(12)
    ]
    happy_hour = [
        f"happy hour {i}: shots fired at the bar tonight, tequila shots for everyone"
        for i in range(12)
    ]
    records = [
        {"text": t, "urgency": "critical", "topics": ["active_threat"], "hard_negative": False}
        for t in real
    ] + [
        {"text": t, "urgency": "low", "topics": ["irrelevant"], "hard_negative": True}
        for t in happy_hour
    ]
    chosen = choose_policy(Classifier(ruleset=Ruleset.load()), records)
    tried = chosen["lowering_critical"]
    assert [c["lower_critical_confidence"] for c in tried] == list(LOWER_CRITICAL_CONFIDENCES)
    assert chosen["lower_critical_confidence"] in LOWER_CRITICAL_CONFIDENCES
    picked = next(
        c for c in tried if c["lower_critical_confidence"] == chosen["lower_critical_confidence"]
    )
    never = next(
        c
        for c in chosen["candidates"]
        if (c["lower_confidence"], c["raise_any_confidence"], c["critical_confidence"])
        == (
            chosen["lower_confidence"],
            chosen["raise_any_confidence"],
            chosen["critical_confidence"],
        )
    )
    assert picked["no_action_flagged"] < never["no_action_flagged"]
    assert picked["critical_recall"] >= never["critical_recall"]
    # Where lowering would lose an emergency (the same words in both), it is never chosen.
    twins = [dict(r, text=real[0].replace(" 0 ", f" {n} ")) for n, r in enumerate(records)]
    assert (
        choose_policy(Classifier(ruleset=Ruleset.load()), twins)["lower_critical_confidence"]
        is None
    )


def test_a_split_measures_the_policy_the_given_model_ships_with():
    import dataclasses

    from switchboard_classifier.combine import Classifier
    from switchboard_classifier.evaluation import split_predictions
    from switchboard_classifier.model import TextModel
    from switchboard_classifier.rules import Ruleset

    happy = [
        f"happy hour {i}: shots fired at the bar tonight, tequila shots for all" for i in range(16)
    ]
    real = [
        f"someone fired shots at my window {i} and I am hiding in the bathroom" for i in range(16)
    ]
    train = [{"text": t, "urgency": "low", "topics": ["irrelevant"]} for t in happy[:12]] + [
        {"text": t, "urgency": "critical", "topics": ["active_threat"]} for t in real[:12]
    ]
    test = [{"text": t, "urgency": "low", "topics": ["irrelevant"]} for t in happy[12:]]
    base = TextModel.load()

    def lowered(combination):
        shipped = dataclasses.replace(base, meta={**base.meta, "combination": combination})
        rows = split_predictions(Classifier(ruleset=Ruleset.load(), model=shipped), train, test)
        return sum(
            any(r.rule == "model_lowered_critical" for r in c.reasons) for c in rows["combined"]
        )

    assert lowered({"lower_critical_confidence": 0.5}) > 0  # the split follows the policy
    assert lowered({"lower_critical_confidence": None}) == 0
