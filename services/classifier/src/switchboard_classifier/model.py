"""The trainable model beside the rules: n-gram features and linear classifiers.

Features are hashed word 1-2-grams and character 2-5-grams inside word
boundaries, weighted by TF-IDF and l2-normalised per kind (see `features`).
Urgency is a multinomial logistic regression (its probabilities are the
urgency score); topics are one-vs-rest logistic regressions. Only the buckets
seen in training have a column, with its idf and one weight per label, so
inference is one sparse-by-dense product per feature kind for a whole batch.

A model directory holds `weights.npz` (numpy arrays only: read with
`allow_pickle=False`, so loading a model cannot run code) and `model.json`
(version, creation time, label sets, metrics, the sha256 of the training data
and the sha256 of `weights.npz`, checked on every load: a weights file that is
not the one its metadata names is refused). scikit-learn is imported only to
train: classifying needs numpy and scipy alone, which keeps start-up short.
A model may also carry a meaning head: the same labels regressed on the
sentence vectors of `meaning` (USE multilingual), which the classifier asks
only for the share of mentions its n-gram stage is least sure of (the
cascade in `combine`); its weights are in the same `weights.npz`, under the
same sha256.
Pure: no Kafka, no faust, nothing downloaded.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp  # type: ignore[import-untyped,import-not-found,unused-ignore]

from switchboard_classifier import features
from switchboard_classifier import meaning as sentence_meaning
from switchboard_classifier.features import N_FEATURES

URGENCY_LABELS = ("critical", "high", "normal", "low")
MODEL_FILE = "weights.npz"
META_FILE = "model.json"
# Format 3: TF-IDF features, weights in npz with their sha256 in model.json.
# Format 2 (a joblib pickle, 1/sqrt(count) scaling) is refused: retrain it.
FORMAT = 3
KINDS = ("word", "char")  # the order of `features.hashed_ngrams`
# C of the urgency regression: 5 beat 10, 20 and 40 in 4-fold cross-validation
# on the gold train split (urgency macro-F1 0.644 against 0.639-0.641).
DEFAULT_C = 5.0
DEFAULT_C_TOPICS = 10.0
# C of the meaning head's regressions: on the gold set USE vectors alone did
# best at 1 (4-fold CV urgency macro-F1 0.774 against 0.757 at 10).
MEANING_C = 1.0

Array = np.ndarray[Any, Any]


class ModelError(ValueError):
    """A model directory that cannot be used; the message says why."""


@dataclass(frozen=True)
class Predictions:
    """Model output for a batch: urgency probabilities and topic probabilities."""

    urgency: np.ndarray[Any, np.dtype[np.float64]]  # (n, len(URGENCY_LABELS))
    topics: np.ndarray[Any, np.dtype[np.float64]]  # (n, len(topic_labels))


@dataclass(frozen=True)
class KindWeights:
    """One kind of feature (words or characters): its columns and their weights."""

    buckets: Array  # (d,) the buckets seen in training, sorted
    idf: Array  # (d,) inverse document frequency of each
    weights: Array  # (d, 4 + n_topics) one weight per label


@dataclass(frozen=True)
class MeaningHead:
    """The labels regressed on sentence vectors: one weight per vector dimension and label."""

    weights: Array  # (sentence_meaning.DIMENSION, 4 + n_topics)
    bias: Array  # (4 + n_topics,)

    def predict(self, vectors: Array) -> Predictions:
        """Urgency and topic probabilities for a batch of sentence vectors."""
        return _probabilities(vectors @ self.weights + self.bias)


def _probabilities(scores: Array) -> Predictions:
    """Softmax over the four urgency columns, a sigmoid for each topic column."""
    u = scores[:, :4]
    u = np.exp(u - u.max(axis=1, keepdims=True))
    u /= u.sum(axis=1, keepdims=True)
    topics = 1.0 / (1.0 + np.exp(-scores[:, 4:]))
    return Predictions(urgency=u, topics=topics)


@dataclass(frozen=True)
class TextModel:
    """A trained model: TF-IDF weights over hashed features, and its metadata."""

    kinds: tuple[KindWeights, ...]  # one per kind, in KINDS order
    bias: np.ndarray[Any, np.dtype[np.float64]]
    topic_labels: tuple[str, ...]
    meta: dict[str, Any] = field(default_factory=dict)
    meaning: MeaningHead | None = None
    # Per kind: bucket -> column (or -1), for `features.blocks`.
    columns: tuple[Array, ...] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "columns", tuple(features.column_map(k.buckets) for k in self.kinds)
        )

    @property
    def version(self) -> str:
        """The version recorded in every classification the model makes."""
        return str(self.meta.get("version", "unversioned"))

    @property
    def n_weights(self) -> int:
        """How many weights the model holds (its size)."""
        return sum(int(k.weights.size) for k in self.kinds)

    def predict(self, texts: Sequence[str]) -> Predictions:
        """Urgency and topic probabilities for a batch of texts."""
        if not texts:
            return Predictions(np.zeros((0, 4)), np.zeros((0, len(self.topic_labels))))
        scores = np.tile(self.bias, (len(texts), 1))
        entries = features.known_ngrams(texts, self.columns, [k.idf for k in self.kinds])
        for kind_entries, kind in zip(entries, self.kinds, strict=True):
            features.add_products(scores, kind_entries, kind.weights)
        return _probabilities(scores)

    @property
    def meaning_share(self) -> float:
        """The share of mentions the meaning head may see (0: no head), as trained."""
        if self.meaning is None:
            return 0.0
        return float(self.meta.get("meaning", {}).get("share", 0.0))

    def save(self, directory: Path) -> None:
        """Write `weights.npz` and `model.json` (with the sha256 of the weights) into `directory`."""
        directory.mkdir(parents=True, exist_ok=True)
        arrays: dict[str, Array] = {"bias": np.asarray(self.bias, dtype=np.float64)}
        for name, kind in zip(KINDS, self.kinds, strict=True):
            arrays[f"{name}_buckets"] = np.asarray(kind.buckets, dtype=np.int64)
            arrays[f"{name}_idf"] = np.asarray(kind.idf, dtype=np.float32)
            arrays[f"{name}_weights"] = np.asarray(kind.weights, dtype=np.float32)
        if self.meaning is not None:
            arrays["meaning_weights"] = np.asarray(self.meaning.weights, dtype=np.float32)
            arrays["meaning_bias"] = np.asarray(self.meaning.bias, dtype=np.float64)
        buffer = io.BytesIO()
        np.savez_compressed(buffer, **arrays)  # type: ignore[arg-type,unused-ignore]
        blob = buffer.getvalue()
        (directory / MODEL_FILE).write_bytes(blob)
        self.meta["weights_file"] = MODEL_FILE
        self.meta["weights_sha256"] = hashlib.sha256(blob).hexdigest()
        self.meta["format"] = FORMAT
        (directory / META_FILE).write_text(
            json.dumps(self.meta, indent=2, sort_keys=True) + "\n", "utf-8"
        )

    @classmethod
    def load(cls, directory: Path | None = None) -> TextModel:
        """The model in `directory`, or the one shipped with the classifier.

        Refused (ModelError) when the metadata is unreadable or of another
        format, when the weights file's sha256 is not the one `model.json`
        records, or when the weights hold anything but plain numeric arrays.
        """
        if directory is None:
            with resources.as_file(resources.files(__package__).joinpath("data", "model")) as d:
                return cls.load(d)
        try:
            meta = json.loads((directory / META_FILE).read_text("utf-8"))
        except (OSError, ValueError) as exc:
            raise ModelError(f"{directory}: cannot read {META_FILE}: {exc}") from exc
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            found = meta.get("format") if isinstance(meta, dict) else None
            raise ModelError(
                f"{directory}: model format {found}, this classifier reads format {FORMAT};"
                " retrain it with `switchboard train`"
            )
        weights_path = directory / MODEL_FILE
        try:
            blob = weights_path.read_bytes()
        except OSError as exc:
            raise ModelError(f"{weights_path}: cannot read the weights: {exc}") from exc
        actual, recorded = hashlib.sha256(blob).hexdigest(), meta.get("weights_sha256")
        if actual != recorded:
            raise ModelError(
                f"{weights_path}: sha256 {actual} is not the {recorded}"
                f" recorded in {META_FILE}; refusing the model"
            )
        labels = tuple(str(t) for t in meta.get("topic_labels", []))
        try:
            with np.load(io.BytesIO(blob), allow_pickle=False) as npz:
                arrays = {name: npz[name] for name in npz.files}
            kinds = tuple(
                KindWeights(
                    buckets=arrays[f"{name}_buckets"].astype(np.intp),
                    idf=arrays[f"{name}_idf"].astype(np.float64),
                    weights=arrays[f"{name}_weights"].astype(np.float64),
                )
                for name in KINDS
            )
            bias = arrays["bias"].astype(np.float64)
            head = (
                MeaningHead(
                    weights=arrays["meaning_weights"].astype(np.float64),
                    bias=arrays["meaning_bias"].astype(np.float64),
                )
                if "meaning_weights" in arrays
                else None
            )
        except (OSError, ValueError, KeyError, EOFError) as exc:
            raise ModelError(f"{weights_path}: not a plain weights file: {exc}") from exc
        width = 4 + len(labels)
        for name, kind in zip(KINDS, kinds, strict=True):
            rows = len(kind.buckets)
            if kind.idf.shape != (rows,) or kind.weights.shape != (rows, width):
                raise ModelError(f"{weights_path}: {name} weights have shape {kind.weights.shape}")
            if rows and (kind.buckets.min() < 0 or kind.buckets.max() >= N_FEATURES):
                raise ModelError(f"{weights_path}: {name} buckets out of range")
        if bias.shape != (width,):
            raise ModelError(f"{weights_path}: bias has shape {bias.shape}")
        if head is not None and (
            head.weights.shape != (sentence_meaning.DIMENSION, width) or head.bias.shape != (width,)
        ):
            raise ModelError(f"{weights_path}: meaning weights have shape {head.weights.shape}")
        return cls(kinds=kinds, bias=bias, topic_labels=labels, meta=meta, meaning=head)


def data_sha256(path: Path) -> str:
    """The sha256 of a training file, recorded with the model."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _fit(x: sp.csr_matrix | Array, y: Array, c: float) -> Any:
    from sklearn.linear_model import LogisticRegression  # type: ignore[import-untyped,import-not-found,unused-ignore]

    clf = LogisticRegression(C=c, max_iter=3000, class_weight="balanced")
    clf.fit(x, y)
    return clf


def train(
    records: Sequence[dict[str, Any]],
    *,
    topic_labels: Sequence[str] | None = None,
    data_hash: str = "",
    c_urgency: float = DEFAULT_C,
    c_topics: float = DEFAULT_C_TOPICS,
    meaning_share: float | None = None,
) -> TextModel:
    """Fit a model on gold-format records (`text`, and `urgency` and/or `topics`).

    Class-balanced logistic regressions over TF-IDF features: the idf and the
    columns come from every training text (labelled with urgency, topics or both).
    With a `meaning_share` above 0 (None: `meaning.DEFAULT_SHARE`) the same
    labels are also regressed on the texts' sentence vectors, and the model
    records the share of mentions the classifier may spend them on.
    """
    share = sentence_meaning.DEFAULT_SHARE if meaning_share is None else meaning_share
    urgent = [r for r in records if r.get("urgency") in URGENCY_LABELS]
    tagged = [r for r in records if isinstance(r.get("topics"), list)]
    if len(urgent) < 4 or len({r["urgency"] for r in urgent}) < 2:
        raise ModelError("training needs records of at least two urgency labels")
    labels = tuple(topic_labels or sorted({t for r in tagged for t in r["topics"]}, key=str))
    texts = list(dict.fromkeys(r["text"] for r in urgent + tagged))
    seen = features.document_frequencies(texts)
    idf = [features.smooth_idf(df, len(texts)) for _, df in seen]
    columns = [features.column_map(buckets) for buckets, _ in seen]
    widths = [len(buckets) for buckets, _ in seen]

    def matrix(rows: Sequence[dict[str, Any]]) -> sp.csr_matrix:
        return sp.hstack(features.blocks([r["text"] for r in rows], columns, idf), format="csr")

    y = np.array([URGENCY_LABELS.index(r["urgency"]) for r in urgent])
    weights, bias = _fit_labels(
        matrix(urgent), y, matrix(tagged) if tagged else None, tagged, labels, c_urgency, c_topics
    )
    head = None
    if share > 0:
        vectors = sentence_meaning.training_vectors
        head = MeaningHead(
            *_fit_labels(
                vectors([r["text"] for r in urgent]),
                y,
                vectors([r["text"] for r in tagged]) if tagged else None,
                tagged,
                labels,
                MEANING_C,
                MEANING_C,
            )
        )
    created = datetime.now(UTC)
    meta: dict[str, Any] = {
        # to the second: two models trained the same day on the same data (other
        # options, another format) must not record the same version
        "version": f"{created:%Y%m%dT%H%M%S}-{(data_hash or 'nodata')[:8]}",
        "created": created.isoformat(timespec="seconds"),
        "format": FORMAT,
        "features": features.DESCRIPTION,
        "regularisation_c": {"urgency": c_urgency, "topics": c_topics},
        "urgency_labels": list(URGENCY_LABELS),
        "topic_labels": list(labels),
        "training_data_sha256": data_hash,
        "training_records": len(records),
        "metrics": {},
    }
    if head is not None:
        meta["meaning"] = {
            "encoder": sentence_meaning.DESCRIPTION,
            "encoder_version": sentence_meaning.shared_encoder().version,
            "regularisation_c": MEANING_C,
            "share": share,
        }
    split = np.cumsum([0, *widths])
    kinds = tuple(
        KindWeights(buckets=buckets, idf=idf[k], weights=weights[split[k] : split[k + 1]])
        for k, (buckets, _) in enumerate(seen)
    )
    return TextModel(kinds=kinds, bias=bias, topic_labels=labels, meta=meta, meaning=head)


def _fit_labels(
    x_urgent: sp.csr_matrix | Array,
    y: Array,
    x_tagged: sp.csr_matrix | Array | None,
    tagged: Sequence[dict[str, Any]],
    labels: Sequence[str],
    c_urgency: float,
    c_topics: float,
) -> tuple[Array, Array]:
    """Weights (one column per label) and biases: multinomial urgency, one-vs-rest topics."""
    weights = np.zeros((x_urgent.shape[1], 4 + len(labels)))
    bias = np.full(4 + len(labels), -30.0)  # a label never seen in training is never predicted
    clf = _fit(x_urgent, y, c_urgency)
    for row, label in enumerate(clf.classes_):
        if len(clf.classes_) == 2:
            sign = 1 if row == 1 else -1
            weights[:, label], bias[label] = sign * clf.coef_[0] / 2, sign * clf.intercept_[0] / 2
        else:
            weights[:, label], bias[label] = clf.coef_[row], clf.intercept_[row]
    for k, label in enumerate(labels):
        yt = np.array([label in r["topics"] for r in tagged], dtype=int)
        if x_tagged is None or yt.min() == yt.max():
            bias[4 + k] = 30.0 if x_tagged is not None and yt[0] else -30.0
            continue
        lr = _fit(x_tagged, yt, c_topics)
        weights[:, 4 + k], bias[4 + k] = lr.coef_[0], lr.intercept_[0]
    return weights, bias
