"""The blind set is frozen: measured against, never edited or tuned on (see blind/README.md)."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from pathlib import Path

BLIND = Path(__file__).resolve().parents[2] / "blind"


def _sums() -> dict[str, str]:
    lines = (BLIND / "SHA256SUMS").read_text("utf-8").splitlines()
    return {name: digest for digest, name in (line.split() for line in lines if line.strip())}


def test_the_blind_files_are_the_ones_frozen_before_any_tuning() -> None:
    for name, digest in _sums().items():
        assert hashlib.sha256((BLIND / name).read_bytes()).hexdigest() == digest, name


def test_the_blind_set_covers_what_the_issue_asks() -> None:
    records = [json.loads(line) for line in (BLIND / "blind.jsonl").read_text("utf-8").splitlines()]
    assert len(records) >= 300
    assert len({r["id"] for r in records}) == len(records)
    by_language = Counter((r["lang"], r["urgency"]) for r in records)
    for lang in ("en", "es"):
        for urgency in ("critical", "high", "normal", "low"):
            assert by_language[(lang, urgency)] >= 10, (lang, urgency)
    assert sum(r["hard_negative"] for r in records) >= 0.25 * len(records)
