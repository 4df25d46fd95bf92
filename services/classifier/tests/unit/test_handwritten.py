"""The second hand-written source: training data with provenance, kept apart from the blind set."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from pathlib import Path

from switchboard_classifier.model import URGENCY_LABELS, TextModel
from switchboard_classifier.reserved import is_reserved_record

HANDWRITTEN = Path(__file__).resolve().parents[2] / "corpus" / "handwritten"
BLIND = Path(__file__).resolve().parents[2] / "blind" / "blind.jsonl"


def _records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]


def test_the_handwritten_file_is_the_one_its_sums_name() -> None:
    digest, name = (HANDWRITTEN / "SHA256SUMS").read_text("utf-8").split()
    assert hashlib.sha256((HANDWRITTEN / name).read_bytes()).hexdigest() == digest


def test_every_handwritten_record_carries_its_provenance_and_known_labels() -> None:
    records = _records(HANDWRITTEN / "handwritten.jsonl")
    topics = set(TextModel.load().topic_labels)
    ids = [r["provenance"]["record_id"] for r in records]
    assert len(set(ids)) == len(records) == 1000
    for r in records:
        assert r["provenance"]["dataset"] == "switchboard-handwritten-2"
        assert r["urgency"] in URGENCY_LABELS
        assert r["topics"] and set(r["topics"]) <= topics
    counts = Counter((r["lang"], r["urgency"]) for r in records)
    assert counts[("en", "critical")] >= 100 and counts[("es", "critical")] >= 50


def test_no_handwritten_record_is_about_a_reserved_event() -> None:
    assert not [
        r["provenance"]["record_id"]
        for r in _records(HANDWRITTEN / "handwritten.jsonl")
        if is_reserved_record(r)
    ]


def test_no_handwritten_text_is_a_blind_text() -> None:
    blind = {r["text"].casefold().strip() for r in _records(BLIND)}
    assert not [
        r["provenance"]["record_id"]
        for r in _records(HANDWRITTEN / "handwritten.jsonl")
        if r["text"].casefold().strip() in blind
    ]


def test_the_shipped_model_was_trained_on_gold_train_and_the_handwritten_source() -> None:
    gold_train = Path(__file__).resolve().parents[2] / "src" / "switchboard_classifier" / "data"
    data = (gold_train / "gold_train.jsonl").read_bytes() + (
        HANDWRITTEN / "handwritten.jsonl"
    ).read_bytes()
    assert TextModel.load().meta["training_data_sha256"] == hashlib.sha256(data).hexdigest()
