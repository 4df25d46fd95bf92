"""The hand-written sources: training data with provenance, kept apart from the blind set."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from pathlib import Path

import pytest

from switchboard_classifier.model import URGENCY_LABELS, TextModel
from switchboard_classifier.reserved import is_reserved_record

HANDWRITTEN = Path(__file__).resolve().parents[2] / "corpus" / "handwritten"
BLIND_DIR = Path(__file__).resolve().parents[2] / "blind"
BLIND_SETS = (BLIND_DIR / "blind.jsonl", BLIND_DIR / "blind-2.jsonl")
GOLD_TRAIN = (
    Path(__file__).resolve().parents[2]
    / "src"
    / "switchboard_classifier"
    / "data"
    / "gold_train.jsonl"
)
# Each file's data set and how many records it holds (the sources' READMEs say who wrote them).
SOURCES = {
    "handwritten.jsonl": ("switchboard-handwritten-2", 1000),
    "handwritten-3a.jsonl": ("switchboard-handwritten-3a", 700),
    "handwritten-3a2.jsonl": ("switchboard-handwritten-3a2", 700),
    "handwritten-3b.jsonl": ("switchboard-handwritten-3b", 700),
    "handwritten-3c.jsonl": ("switchboard-handwritten-3c", 700),
    "handwritten-3d.jsonl": ("switchboard-handwritten-3d", 700),
    "handwritten-3e.jsonl": ("switchboard-handwritten-3e", 702),
}
# Sources written and checked but not yet trained on wait here, outside SHA256SUMS (a
# model trained with them must first pass the gold guard). None at the moment.
PENDING: dict[str, tuple[str, int]] = {}
CHECKED = SOURCES | PENDING


def _records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]


def _sums() -> list[tuple[str, str]]:
    """(sha256, file name) in the order SHA256SUMS lists them: the training order."""
    lines = (HANDWRITTEN / "SHA256SUMS").read_text("utf-8").splitlines()
    return [(digest, name) for digest, name in (line.split() for line in lines if line.strip())]


def test_every_handwritten_file_is_the_one_its_sums_name() -> None:
    sums = _sums()
    assert [name for _, name in sums] == list(SOURCES)
    for digest, name in sums:
        assert hashlib.sha256((HANDWRITTEN / name).read_bytes()).hexdigest() == digest, name


@pytest.mark.parametrize("name", list(CHECKED))
def test_every_handwritten_record_carries_its_provenance_and_known_labels(name: str) -> None:
    dataset, count = CHECKED[name]
    records = _records(HANDWRITTEN / name)
    topics = set(TextModel.load().topic_labels)
    ids = [r["provenance"]["record_id"] for r in records]
    assert len(set(ids)) == len(records) == count
    for r in records:
        assert r["provenance"]["dataset"] == dataset
        assert r["provenance"]["licence"] == "the project's own"
        assert r["urgency"] in URGENCY_LABELS
        assert r["topics"] and set(r["topics"]) <= topics
        assert r["lang"] in ("en", "es")
    counts = Counter(r["urgency"] for r in records)
    assert counts["critical"] >= 100 and counts["low"] >= 150


def test_the_handwritten_sources_cover_both_languages_at_every_urgency() -> None:
    counts = Counter(
        (r["lang"], r["urgency"]) for name in SOURCES for r in _records(HANDWRITTEN / name)
    )
    for lang in ("en", "es"):
        for urgency in URGENCY_LABELS:
            assert counts[(lang, urgency)] >= 150, (lang, urgency)


@pytest.mark.parametrize("name", list(CHECKED))
def test_no_handwritten_record_is_about_a_reserved_event(name: str) -> None:
    assert not [
        r["provenance"]["record_id"] for r in _records(HANDWRITTEN / name) if is_reserved_record(r)
    ]


@pytest.mark.parametrize("name", list(CHECKED))
def test_no_handwritten_text_is_a_blind_text(name: str) -> None:
    blind = {r["text"].casefold().strip() for path in BLIND_SETS for r in _records(path)}
    assert not [
        r["provenance"]["record_id"]
        for r in _records(HANDWRITTEN / name)
        if r["text"].casefold().strip() in blind
    ]


def test_the_shipped_model_was_trained_on_gold_train_and_the_handwritten_sources() -> None:
    data = GOLD_TRAIN.read_bytes() + b"".join(
        (HANDWRITTEN / name).read_bytes() for _, name in _sums()
    )
    assert TextModel.load().meta["training_data_sha256"] == hashlib.sha256(data).hexdigest()
