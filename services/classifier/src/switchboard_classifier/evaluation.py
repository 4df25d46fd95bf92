"""Measuring a classifier on gold-format records: the numbers the acceptance asks for.

Gold records are JSON lines with `text`, `urgency`, `topics`, `hard_negative`
and optionally `lang`. The shipped gold set is split once (by a hash of the
text) into `gold_train.jsonl` and `gold_test.jsonl`; the test part is the
regression suite. The figures themselves are computed in `scoring`; here the
classifiers are built, trained per fold or per source, and run. Pure: no Kafka,
no faust.
"""

from __future__ import annotations

import dataclasses
import json
import random
from collections.abc import Iterable, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from switchboard_classifier import model as model_module
from switchboard_classifier.combine import Classifier
from switchboard_classifier.model import URGENCY_LABELS
from switchboard_classifier.rules import Ruleset
from switchboard_classifier.scoring import mean_summary, score, summary
from switchboard_shared.events import Classification

# The hand-written gold set carries no provenance: it is this data set.
GOLD_DATASET = "switchboard-gold"
ROWS = ("rules", "model", "combined", "baseline")


def read_records(lines: Iterable[str]) -> list[dict[str, Any]]:
    """Parse JSON lines of gold records, skipping blank lines."""
    return [json.loads(line) for line in lines if line.strip()]


def gold(split: str) -> list[dict[str, Any]]:
    """The shipped gold records of one split (`train` or `test`)."""
    text = resources.files(__package__).joinpath("data", f"gold_{split}.jsonl").read_text("utf-8")
    return read_records(text.splitlines())


def gold_path(split: str) -> Path:
    """Where the shipped gold split lies on disk."""
    return Path(str(resources.files(__package__).joinpath("data", f"gold_{split}.jsonl")))


def evaluate(classifier: Classifier, records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Classify gold records (language detected, as in the stream) and score them."""
    predicted = classifier.classify_texts([r["text"] for r in records])
    report = score(records, predicted)
    report["versions"] = classifier.versions
    return report


def cross_predictions(
    classifier: Classifier, records: Sequence[dict[str, Any]], folds: int = 4, seed: int = 7
) -> list[Classification]:
    """Each record classified by a model trained on the other folds (rules kept)."""
    order = list(range(len(records)))
    random.Random(seed).shuffle(order)
    predicted: list[Classification | None] = [None] * len(records)
    for fold in range(folds):
        held_out = [i for n, i in enumerate(order) if n % folds == fold]
        fitted = model_module.train([records[i] for n, i in enumerate(order) if n % folds != fold])
        trial = dataclasses.replace(classifier, model=fitted)
        results = trial.classify_texts([records[i]["text"] for i in held_out])
        for i, classification in zip(held_out, results, strict=True):
            predicted[i] = classification
    return [p for p in predicted if p is not None]


def cross_validate(
    classifier: Classifier, records: Sequence[dict[str, Any]], folds: int = 4, seed: int = 7
) -> dict[str, Any]:
    """Score a model on records it never saw: train on all folds but one, classify that one.

    The classifier's rules, places and thresholds are kept; only its model is
    retrained per fold. The figures are over every record, each classified by
    the model of the one fold that left it out. The test split flatters the
    rules (they were written with it in view); this does not flatter the model.
    """
    report = score(records, cross_predictions(classifier, records, folds, seed))
    report["cross_validation"] = {"folds": folds, "seed": seed}
    report["versions"] = {**classifier.versions, "model": "retrained per fold"}
    return report


def dataset_of(record: dict[str, Any]) -> str:
    """The data set a record comes from (its provenance), the gold set when it says none."""
    provenance = record.get("provenance") or {}
    return str(provenance.get("dataset") or GOLD_DATASET)


class BaselineModel:
    """The bare peer: scikit-learn TF-IDF (word 1-2 + char_wb 2-5, sublinear tf) and a
    class-balanced logistic regression, trained on the same records as the project's
    model. It predicts urgency only, and plugs into `Classifier` where a model goes."""

    topic_labels: tuple[str, ...] = ()

    def __init__(self, records: Sequence[dict[str, Any]]) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer  # type: ignore[import-untyped,import-not-found,unused-ignore]
        from sklearn.linear_model import LogisticRegression  # type: ignore[import-untyped,import-not-found,unused-ignore]
        from sklearn.pipeline import FeatureUnion, make_pipeline  # type: ignore[import-untyped,import-not-found,unused-ignore]

        urgent = [r for r in records if r.get("urgency") in URGENCY_LABELS]
        if len({r["urgency"] for r in urgent}) < 2:
            raise model_module.ModelError("training needs records of at least two urgency labels")
        self.pipeline = make_pipeline(
            FeatureUnion(
                [
                    ("words", TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)),
                    (
                        "chars",
                        TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True),
                    ),
                ]
            ),
            LogisticRegression(class_weight="balanced", max_iter=3000),
        )
        self.pipeline.fit(
            [r["text"] for r in urgent], [URGENCY_LABELS.index(r["urgency"]) for r in urgent]
        )
        self.meta: dict[str, Any] = {}
        self.version = "baseline-tfidf-lr"

    def predict(self, texts: Sequence[str]) -> model_module.Predictions:
        """Urgency probabilities (a label never seen in training gets 0)."""
        import numpy as np

        probabilities = np.zeros((len(texts), len(URGENCY_LABELS)))
        if texts:
            probabilities[:, self.pipeline.classes_] = self.pipeline.predict_proba(list(texts))
        return model_module.Predictions(urgency=probabilities, topics=np.zeros((len(texts), 0)))


def without_rules(ruleset: Ruleset) -> Ruleset:
    """The same rule set with no packs, so the model decides alone."""
    return Ruleset(version=ruleset.version, packs={}, urgency_groups=ruleset.urgency_groups)


def row_classifiers(
    classifier: Classifier, model: Any, baseline: Any | None = None
) -> dict[str, Classifier]:
    """The classifiers of the rows every evaluation prints: rules alone, model alone,
    rules and model combined, and the baseline alone when there is one."""
    no_rules = without_rules(classifier.ruleset)
    rows = {"rules": dataclasses.replace(classifier, model=None)}
    if model is not None:
        rows["model"] = dataclasses.replace(classifier, ruleset=no_rules, model=model)
        rows["combined"] = dataclasses.replace(classifier, model=model)
    if baseline is not None:
        rows["baseline"] = dataclasses.replace(classifier, ruleset=no_rules, model=baseline)
    return rows


def split_predictions(
    classifier: Classifier,
    train_records: Sequence[dict[str, Any]] | None,
    test_records: Sequence[dict[str, Any]],
    *,
    baseline: bool = False,
) -> dict[str, list[Classification]]:
    """Each row's classifications of `test_records`; the model (and the baseline) trained
    on `train_records`, or the classifier's own model when there are none."""
    model = model_module.train(train_records) if train_records is not None else classifier.model
    shipped = classifier.model.meta.get("combination") if classifier.model is not None else None
    if model is not None and model is not classifier.model and isinstance(shipped, dict):
        # A model trained here for the split carries no policy of its own: it is combined
        # under the one the given model ships with, so the split measures that policy.
        model = dataclasses.replace(model, meta={**model.meta, "combination": shipped})
    peer = BaselineModel(train_records) if baseline and train_records is not None else None
    texts = [r["text"] for r in test_records]
    return {
        name: row.classify_texts(texts)
        for name, row in row_classifiers(classifier, model, peer).items()
    }


def rows_report(
    records: Sequence[dict[str, Any]], predictions: dict[str, list[Classification]]
) -> dict[str, Any]:
    """A report per row and the summary table of them all."""
    reports = {name: score(records, predicted) for name, predicted in predictions.items()}
    return {"rows": reports, "summary": {name: summary(r) for name, r in reports.items()}}


def cross_rows(
    classifier: Classifier,
    records: Sequence[dict[str, Any]],
    folds: int = 4,
    seed: int = 7,
    *,
    baseline: bool = False,
) -> dict[str, Any]:
    """`cross_validate` for every row: each record classified by the rows of the fold that left it out."""
    order = list(range(len(records)))
    random.Random(seed).shuffle(order)
    predicted: dict[str, list[Classification | None]] = {}
    for fold in range(folds):
        held_out = [i for n, i in enumerate(order) if n % folds == fold]
        kept = [records[i] for n, i in enumerate(order) if n % folds != fold]
        rows = split_predictions(
            classifier, kept, [records[i] for i in held_out], baseline=baseline
        )
        for name, results in rows.items():
            column = predicted.setdefault(name, [None] * len(records))
            for i, c in zip(held_out, results, strict=True):
                column[i] = c
    full = {name: [c for c in column if c is not None] for name, column in predicted.items()}
    report = rows_report(records, full)
    report["cross_validation"] = {"folds": folds, "seed": seed}
    return report


def by_source(
    classifier: Classifier, records: Sequence[dict[str, Any]], *, baseline: bool = False
) -> dict[str, Any]:
    """Leave one source out: for each data set, train on every other one and test on it.

    Per source, each row's summary; then the mean over sources of each figure
    (of the sources that have it: where the other sources cannot train a model,
    that source is measured with the rules alone and says why).
    """
    sources = sorted({dataset_of(r) for r in records})
    if len(sources) < 2:
        raise model_module.ModelError(f"--by-source needs two data sets or more, found {sources}")
    per_source: dict[str, Any] = {}
    for source in sources:
        test = [r for r in records if dataset_of(r) == source]
        train_records = [r for r in records if dataset_of(r) != source]
        try:
            predictions = split_predictions(classifier, train_records, test, baseline=baseline)
        except model_module.ModelError as exc:
            # The other sources cannot train a model (one urgency label between them):
            # the rules alone are measured, and the report says why the rest is missing.
            predictions = split_predictions(dataclasses.replace(classifier, model=None), None, test)
            per_source[source] = {"records": len(test), "not_trained": str(exc)}
        per_source.setdefault(source, {"records": len(test)}).update(rows_report(test, predictions))
    rows = [name for name in ROWS if any(name in s["summary"] for s in per_source.values())]
    mean = {
        name: mean_summary(
            [s["summary"][name] for s in per_source.values() if name in s["summary"]]
        )
        for name in rows
    }
    return {"by_source": per_source, "summary": {"mean over sources": mean}}
