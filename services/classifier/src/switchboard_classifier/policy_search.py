"""The combination policy `switchboard train` ships with a model: every candidate set of
thresholds scored by cross-validation on the training records, on the whole and per data
set, and the one chosen by the rule `choose_policy` states. Free of faust and Kafka."""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Sequence
from typing import Any

from switchboard_classifier import model as model_module
from switchboard_classifier.combine import Classifier
from switchboard_classifier.evaluation import dataset_of
from switchboard_classifier.language import default_detector
from switchboard_classifier.scoring import score, summary
from switchboard_shared.events import Classification

LOWER_CONFIDENCES = (None, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
RAISE_ANY_CONFIDENCES = (None, 0.5, 0.6, 0.7, 0.8, 0.9)
# How sure the model must be to make a mention critical on its own: the first is
# the rules-first policy's, the one every other candidate must not do worse than.
CRITICAL_CONFIDENCES = (0.6, 0.5, 0.4, 0.3)
TOPIC_THRESHOLDS = (0.5, 0.4, 0.6, 0.7)
# How sure the model must be that a critical rule hit is normal or low to lower it
# (tried after the rest of the policy is chosen; None, never, unless one of these
# loses no critical recall anywhere and flags fewer no-action mentions).
LOWER_CRITICAL_CONFIDENCES = (0.95, 0.9, 0.85, 0.8)


def _topic_micro_f1(records: Sequence[dict[str, Any]], answers: Sequence[Classification]) -> float:
    topics: dict[str, Any] = score(records, answers).get("topics") or {}
    return float(topics.get("micro_f1") or 0.0)


def choose_policy(
    classifier: Classifier, records: Sequence[dict[str, Any]], folds: int = 4, seed: int = 7
) -> dict[str, Any]:
    """The combination policy that does best on records each fold's model never saw.

    For every triple of thresholds (the model may lower a non-critical rule
    urgency when at least `lower_confidence` sure; may raise past one level
    when at least `raise_any_confidence` sure, None: never; may make a mention
    critical when at least `critical_confidence` sure), the held-out records
    are classified by the rules and the fold's model, and scored, on the whole
    and per data set. Among the triples that raise no more hard negatives and
    no more no-action mentions than the rules-first policy (None, None, 0.6)
    and do no worse on urgency macro-F1 and critical precision, on the whole
    and on every data set,
    the one with the best critical recall wins, then the best
    macro-F1: a missed emergency is the failure that matters, and the false
    alarms it could cost are held to the rules-first policy's. Ties go to the
    model moving the rules less.
    """
    order = list(range(len(records)))
    random.Random(seed).shuffle(order)
    texts = [r["text"] for r in records]
    languages = (classifier.languages or default_detector()).detect_many(texts, [None] * len(texts))
    parts = []
    for fold in range(folds):
        held_out = [i for n, i in enumerate(order) if n % folds == fold]
        kept = [records[i] for n, i in enumerate(order) if n % folds != fold]
        parts.append((held_out, model_module.train(kept)))
    sources: dict[str, list[int]] = {}
    for i, r in enumerate(records):
        sources.setdefault(dataset_of(r), []).append(i)

    def held_out_answers(trial: Classifier) -> list[Classification]:
        """Every record classified under `trial`'s policy by the fold model that never saw it."""
        answers: list[Classification | None] = [None] * len(records)
        for held_out, fitted in parts:
            results = dataclasses.replace(trial, model=fitted).classify_texts(
                [texts[i] for i in held_out], languages=[languages[i] for i in held_out]
            )
            for i, c in zip(held_out, results, strict=True):
                answers[i] = c
        return [a for a in answers if a is not None]

    def under(**thresholds: Any) -> list[Classification]:
        """The held-out answers under these policy thresholds."""
        return held_out_answers(
            dataclasses.replace(classifier, use_model_policy=False, **thresholds)
        )

    def scored(**thresholds: Any) -> dict[str, Any]:
        """The thresholds with their held-out figures, on the whole and per data set."""
        classified = under(**thresholds)
        return {
            **thresholds,
            **summary(score(records, classified)),
            "by_source": {
                source: summary(score([records[i] for i in rows], [classified[i] for i in rows]))
                for source, rows in sources.items()
            },
        }

    candidates = [
        scored(lower_confidence=lower, raise_any_confidence=raise_any, critical_confidence=critical)
        for critical in CRITICAL_CONFIDENCES
        for lower in LOWER_CONFIDENCES
        for raise_any in RAISE_ANY_CONFIDENCES
    ]
    rules_first = candidates[0]

    def no_worse(c: dict[str, Any], first: dict[str, Any]) -> bool:
        # Critical precision too: a false critical pulls an officer off other work,
        # and a model that raises "high" reports to critical wholesale (the wording
        # of a new source's authors) would pass the other three.
        return (
            (c["hard_negative_false_alarms"] or 0) <= (first["hard_negative_false_alarms"] or 0)
            and (c["no_action_flagged"] or 0) <= (first["no_action_flagged"] or 0)
            and (c["macro_f1"] or 0) >= (first["macro_f1"] or 0)
            and (c["critical_precision"] or 0) >= (first["critical_precision"] or 0)
        )

    def safe(c: dict[str, Any]) -> bool:
        # On the whole and on every source: a policy that helps the sources the rules
        # were never written against must not cost the one they were (the gold set).
        return no_worse(c, rules_first) and all(
            no_worse(c["by_source"][source], rules_first["by_source"][source]) for source in sources
        )

    def moves(c: dict[str, Any]) -> float:  # how far a policy lets the model move the rules
        return (
            (1 - (c["lower_confidence"] or 1.0))
            + (1 - (c["raise_any_confidence"] or 1.0))
            + (CRITICAL_CONFIDENCES[0] - float(c["critical_confidence"]))
        )

    best = max(
        (c for c in candidates if safe(c)),
        key=lambda c: (c["critical_recall"] or 0, c["macro_f1"] or 0, -moves(c)),
    )
    best = {**best, "lower_critical_confidence": None}
    chosen = {
        k: best[k] for k in ("lower_confidence", "raise_any_confidence", "critical_confidence")
    }
    # Then whether the model may lower a critical rule hit it is sure is normal or low
    # (the lexicon's "shooting" in "shooting hoops"): only if that loses no critical
    # recall, on the whole and on every data set, stays safe, and flags fewer no-action
    # mentions; the fewest wins, then the best macro-F1.
    lowering = [
        scored(**chosen, lower_critical_confidence=lower_critical)
        for lower_critical in LOWER_CRITICAL_CONFIDENCES
    ]

    def keeps_recall(c: dict[str, Any]) -> bool:
        return (c["critical_recall"] or 0) >= (best["critical_recall"] or 0) and all(
            (c["by_source"][s]["critical_recall"] or 0)
            >= (best["by_source"][s]["critical_recall"] or 0)
            for s in sources
        )

    fewer = [
        c
        for c in lowering
        if safe(c)
        and keeps_recall(c)
        and (c["no_action_flagged"] or 0) < (best["no_action_flagged"] or 0)
    ]
    if fewer:
        best = min(fewer, key=lambda c: (c["no_action_flagged"] or 0, -(c["macro_f1"] or 0)))
    # Then how sure the model must be to add a topic of its own, under that policy:
    # alone, and beside topics the rules found. The pair with the best topic micro-F1
    # that loses none on any data set against the usual (0.5, 0.5) wins.
    topic_figures: dict[tuple[float, float], tuple[float, dict[str, float]]] = {}
    for alone in TOPIC_THRESHOLDS:
        for beside in TOPIC_THRESHOLDS:
            given = under(
                **chosen,
                lower_critical_confidence=best["lower_critical_confidence"],
                topic_threshold=alone,
                topic_threshold_beside_rules=beside,
            )
            topic_figures[(alone, beside)] = (
                _topic_micro_f1(records, given),
                {
                    source: _topic_micro_f1([records[i] for i in rows], [given[i] for i in rows])
                    for source, rows in sources.items()
                },
            )
    usual = topic_figures[(TOPIC_THRESHOLDS[0], TOPIC_THRESHOLDS[0])]
    topic_threshold, beside_rules = max(
        (
            pair
            for pair, (_, per_source) in topic_figures.items()
            if all(per_source[s] >= usual[1][s] for s in sources)
        ),
        key=lambda pair: topic_figures[pair][0],  # ties: the pair listed first
    )
    return {
        "lower_confidence": best["lower_confidence"],
        "raise_any_confidence": best["raise_any_confidence"],
        "model_confidence": classifier.model_confidence,
        "critical_confidence": best["critical_confidence"],
        "lower_critical_confidence": best["lower_critical_confidence"],
        "topic_threshold": topic_threshold,
        "topic_threshold_beside_rules": beside_rules,
        "topic_micro_f1_by_thresholds": {
            f"{alone} {beside}": figures for (alone, beside), (figures, _) in topic_figures.items()
        },
        "chosen_by": f"{folds}-fold cross-validation on the training records (seed {seed}):"
        " best critical recall, then urgency macro-F1, raising no more hard negatives and no"
        " more no-action mentions than the rules-first policy and no worse on macro-F1, on"
        " the whole and on every data set; then whether a model sure a critical rule hit is"
        " normal or low may lower it (only if no critical recall is lost anywhere and fewer"
        " no-action mentions are flagged); then the topic thresholds (alone, beside the"
        " rules' topics) with the best topic micro-F1 losing none on any data set",
        "candidates": candidates,
        "lowering_critical": lowering,
    }
