"""The trainable model beside the rules: n-gram features and linear classifiers.

Features are hashed word 1-2-grams and character 2-5-grams inside word
boundaries (see `features`), so there is no vocabulary to ship. Urgency is a
multinomial logistic regression (its probabilities are the urgency score);
topics are one-vs-rest logistic regressions. After training only the weights
of features seen in training are kept, as one sparse matrix, so inference is
one sparse product per feature kind for a whole batch and the saved model is
small.

A model directory holds `model.joblib` (weights and labels) and `model.json`
(version, creation time, label sets, metrics and the sha256 of the training
data). scikit-learn is imported only to train: classifying needs numpy and
scipy alone, which keeps start-up short. Pure: no Kafka, no faust, nothing
downloaded.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import joblib  # type: ignore[import-untyped,import-not-found,unused-ignore]
import numpy as np
import scipy.sparse as sp  # type: ignore[import-untyped,import-not-found,unused-ignore]

from switchboard_classifier import features
from switchboard_classifier.features import N_FEATURES

URGENCY_LABELS = ("critical", "high", "normal", "low")
MODEL_FILE = "model.joblib"
META_FILE = "model.json"
# Format 2: the numpy n-gram hash of `features`. Format 1 (scikit-learn's
# HashingVectorizer) put n-grams in other buckets, so its weights are refused.
FORMAT = 2


class ModelError(ValueError):
    """A model directory that cannot be used; the message says why."""


@dataclass(frozen=True)
class Predictions:
    """Model output for a batch: urgency probabilities and topic probabilities."""

    urgency: np.ndarray[Any, np.dtype[np.float64]]  # (n, len(URGENCY_LABELS))
    topics: np.ndarray[Any, np.dtype[np.float64]]  # (n, len(topic_labels))


@dataclass(frozen=True)
class TextModel:
    """A trained model: sparse weights over hashed features, and its metadata."""

    weights: sp.csr_matrix  # (2 * N_FEATURES, 4 + n_topics)
    bias: np.ndarray[Any, np.dtype[np.float64]]
    topic_labels: tuple[str, ...]
    meta: dict[str, Any] = field(default_factory=dict)
    # Per kind of feature (words, characters): bucket -> row of a small dense weight
    # matrix holding only the buckets seen in training. A sparse-by-dense product
    # over those is the fastest way numpy/scipy offer to score a batch.
    columns: tuple[np.ndarray[Any, Any], ...] = field(init=False, compare=False, repr=False)
    dense: tuple[np.ndarray[Any, Any], ...] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        weights = sp.csr_matrix(self.weights)
        columns, dense = [], []
        for half in (weights[:N_FEATURES], weights[N_FEATURES:]):
            seen = np.flatnonzero(np.diff(half.indptr))
            column = np.full(N_FEATURES, -1, dtype=np.int32)
            column[seen] = np.arange(len(seen), dtype=np.int32)
            if not len(seen):  # keep one zero row so the product has a shape
                column[0] = 0
                seen = np.zeros(1, dtype=np.intp)
            columns.append(column)
            dense.append(half[seen].toarray().astype(np.float64))
        object.__setattr__(self, "columns", tuple(columns))
        object.__setattr__(self, "dense", tuple(dense))

    @property
    def version(self) -> str:
        """The version recorded in every classification the model makes."""
        return str(self.meta.get("version", "unversioned"))

    def predict(self, texts: Sequence[str]) -> Predictions:
        """Urgency and topic probabilities for a batch of texts."""
        if not texts:
            return Predictions(np.zeros((0, 4)), np.zeros((0, len(self.topic_labels))))
        scores = np.tile(self.bias, (len(texts), 1))
        blocks = features.blocks(texts, columns=self.columns)
        for block, dense in zip(blocks, self.dense, strict=True):
            scores += block @ dense
        u = scores[:, :4]
        u = np.exp(u - u.max(axis=1, keepdims=True))
        u /= u.sum(axis=1, keepdims=True)
        topics = 1.0 / (1.0 + np.exp(-scores[:, 4:]))
        return Predictions(urgency=u, topics=topics)

    def save(self, directory: Path) -> None:
        """Write `model.joblib` and `model.json` into `directory`."""
        directory.mkdir(parents=True, exist_ok=True)
        payload = {
            "weights": self.weights,
            "bias": self.bias,
            "topic_labels": self.topic_labels,
            "format": FORMAT,
        }
        joblib.dump(payload, directory / MODEL_FILE, compress=3)
        (directory / META_FILE).write_text(
            json.dumps(self.meta, indent=2, sort_keys=True) + "\n", "utf-8"
        )

    @classmethod
    def load(cls, directory: Path | None = None) -> TextModel:
        """The model in `directory`, or the one shipped with the classifier."""
        if directory is None:
            with resources.as_file(resources.files(__package__).joinpath("data", "model")) as d:
                return cls.load(d)
        try:
            meta = json.loads((directory / META_FILE).read_text("utf-8"))
            payload = joblib.load(directory / MODEL_FILE)
        except (OSError, ValueError, EOFError) as exc:
            raise ModelError(f"{directory}: cannot read the model: {exc}") from exc
        if not isinstance(payload, dict) or payload.get("format") != FORMAT:
            found = payload.get("format") if isinstance(payload, dict) else None
            raise ModelError(
                f"{directory}: model format {found}, this classifier reads format {FORMAT};"
                " retrain it with `switchboard train`"
            )
        weights = sp.csr_matrix(payload["weights"])
        labels = tuple(payload["topic_labels"])
        if weights.shape != (2 * N_FEATURES, 4 + len(labels)):
            raise ModelError(f"{directory}: weights have shape {weights.shape}")
        return cls(
            weights=weights,
            bias=np.asarray(payload["bias"], dtype=np.float64),
            topic_labels=labels,
            meta=meta,
        )


def data_sha256(path: Path) -> str:
    """The sha256 of a training file, recorded with the model."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _fit(x: sp.csr_matrix, y: np.ndarray[Any, Any], c: float) -> tuple[Any, np.ndarray[Any, Any]]:
    """Fit on the columns seen in training only (fast), and say which they were."""
    from sklearn.linear_model import LogisticRegression  # type: ignore[import-untyped,import-not-found,unused-ignore]

    seen = np.flatnonzero(np.asarray((x != 0).sum(axis=0)).ravel())
    clf = LogisticRegression(C=c, max_iter=2000, class_weight="balanced")
    clf.fit(x[:, seen], y)
    return clf, seen


def _scatter(coef: np.ndarray[Any, Any], seen: np.ndarray[Any, Any], n_total: int) -> sp.csr_matrix:
    """Weights over the seen columns, as a sparse (n_total, k) matrix."""
    k = coef.shape[0]
    rows = np.repeat(seen, k)
    cols = np.tile(np.arange(k), len(seen))
    vals = coef.T.ravel().astype(np.float32)
    return sp.csr_matrix((vals, (rows, cols)), shape=(n_total, k))


def train(
    records: Sequence[dict[str, Any]],
    *,
    topic_labels: Sequence[str] | None = None,
    data_hash: str = "",
    c_urgency: float = 10.0,
    c_topics: float = 10.0,
) -> TextModel:
    """Fit a model on gold-format records (`text`, and `urgency` and/or `topics`)."""
    urgent = [r for r in records if r.get("urgency") in URGENCY_LABELS]
    tagged = [r for r in records if isinstance(r.get("topics"), list)]
    if len(urgent) < 4 or len({r["urgency"] for r in urgent}) < 2:
        raise ModelError("training needs records of at least two urgency labels")
    labels = tuple(topic_labels or sorted({t for r in tagged for t in r["topics"]}, key=str))
    n_total = 2 * N_FEATURES
    columns: list[sp.csr_matrix] = []
    biases: list[float] = []

    xu = features.transform([r["text"] for r in urgent])
    y = np.array([URGENCY_LABELS.index(r["urgency"]) for r in urgent])
    clf, seen = _fit(xu, y, c_urgency)
    coef = np.zeros((4, len(seen)))
    bias = np.full(4, -30.0)  # a label never seen in training is never predicted
    for row, label in enumerate(clf.classes_):
        if len(clf.classes_) == 2:
            sign = 1 if row == 1 else -1
            coef[label], bias[label] = sign * clf.coef_[0] / 2, sign * clf.intercept_[0] / 2
        else:
            coef[label], bias[label] = clf.coef_[row], clf.intercept_[row]
    columns.append(_scatter(coef, seen, n_total))
    biases.extend(bias.tolist())

    xt = features.transform([r["text"] for r in tagged]) if tagged else None
    for label in labels:
        yt = np.array([label in r["topics"] for r in tagged], dtype=int)
        if xt is None or yt.min() == yt.max():
            columns.append(sp.csr_matrix((n_total, 1), dtype=np.float32))
            biases.append(30.0 if xt is not None and yt[0] else -30.0)
            continue
        lr, seen_t = _fit(xt, yt, c_topics)
        columns.append(_scatter(lr.coef_, seen_t, n_total))
        biases.append(float(lr.intercept_[0]))

    created = datetime.now(UTC)
    meta = {
        # to the second: two models trained the same day on the same data (other
        # options, another format) must not record the same version
        "version": f"{created:%Y%m%dT%H%M%S}-{(data_hash or 'nodata')[:8]}",
        "created": created.isoformat(timespec="seconds"),
        "format": FORMAT,
        "features": features.DESCRIPTION,
        "urgency_labels": list(URGENCY_LABELS),
        "topic_labels": list(labels),
        "training_data_sha256": data_hash,
        "training_records": len(records),
        "metrics": {},
    }
    return TextModel(
        weights=sp.csr_matrix(sp.hstack(columns, format="csr")),
        bias=np.asarray(biases, dtype=np.float64),
        topic_labels=labels,
        meta=meta,
    )
