"""The blind set is frozen: measured against, never edited or tuned on (see blind/README.md)."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from pathlib import Path

import pytest

BLIND = Path(__file__).resolve().parents[2] / "blind"


def _sums() -> dict[str, str]:
    lines = (BLIND / "SHA256SUMS").read_text("utf-8").splitlines()
    return {name: digest for digest, name in (line.split() for line in lines if line.strip())}


def test_the_blind_files_are_the_ones_frozen_before_any_tuning() -> None:
    for name, digest in _sums().items():
        assert hashlib.sha256((BLIND / name).read_bytes()).hexdigest() == digest, name


BLIND_SETS = ("blind.jsonl", "blind-2.jsonl")


def test_every_blind_set_is_frozen() -> None:
    assert set(BLIND_SETS) <= set(_sums())


@pytest.mark.parametrize("name", BLIND_SETS)
def test_the_blind_set_covers_what_the_issue_asks(name: str) -> None:
    records = [json.loads(line) for line in (BLIND / name).read_text("utf-8").splitlines()]
    assert len(records) >= 300
    assert len({r["id"] for r in records}) == len(records)
    by_language = Counter((r["lang"], r["urgency"]) for r in records)
    for lang in ("en", "es"):
        for urgency in ("critical", "high", "normal", "low"):
            assert by_language[(lang, urgency)] >= 10, (lang, urgency)
    assert sum(r["hard_negative"] for r in records) >= 0.25 * len(records)
