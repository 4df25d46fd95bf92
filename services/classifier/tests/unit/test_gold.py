"""The regression suite: the acceptance figures on the gold set's test split.

A change to the rules, the model or the combination policy that drops any of
these fails `make test`.
"""

import pytest

from switchboard_classifier.combine import Classifier
from switchboard_classifier.evaluation import evaluate, gold
from switchboard_classifier.model import TextModel
from switchboard_classifier.place import Places
from switchboard_classifier.rules import Ruleset


@pytest.fixture(scope="module")
def report():
    classifier = Classifier(ruleset=Ruleset.load(), model=TextModel.load(), places=Places.load())
    return evaluate(classifier, gold("test"))


def test_the_gold_set_is_large_varied_and_split_once():
    train, test = gold("train"), gold("test")
    assert len(train) + len(test) >= 1000
    assert 0.2 < len(test) / (len(train) + len(test)) < 0.3
    assert not {r["text"] for r in train} & {r["text"] for r in test}
    assert {r["lang"] for r in train + test} >= {"en", "es"}
    topics = {t for r in train + test for t in r["topics"]}
    assert len(topics) == 17
    assert sum(r["hard_negative"] for r in test) >= 50


def test_critical_recall_is_at_least_97_percent_with_precision_85(report):
    critical = report["urgency"]["per_label"]["critical"]
    assert critical["recall"] >= 0.97, critical
    assert critical["precision"] >= 0.85, critical


def test_urgency_macro_f1_is_at_least_85_percent(report):
    assert report["urgency"]["macro_f1"] >= 0.85, report["urgency"]


def test_topic_micro_f1_is_at_least_85_percent(report):
    assert report["topics"]["micro_f1"] >= 0.85, report["topics"]["micro"]


def test_hard_negatives_raise_at_most_3_percent_false_critical_or_high(report):
    assert report["hard_negatives"]["rate"] <= 0.03, report["hard_negatives"]
