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
