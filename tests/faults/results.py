"""The fault drills' one table: every run of every drill appends its result to
.run/faults/results.jsonl, and SWITCHBOARD_FAULT_RUNS says how many full runs each makes."""

from __future__ import annotations

import json
import os
from typing import Any

from conftest import REPO

RUNS = int(os.environ.get("SWITCHBOARD_FAULT_RUNS", "1"))
RESULTS = REPO / ".run" / "faults" / "results.jsonl"


def record(result: dict[str, Any]) -> None:
    """Append one run's result to the drills' table."""
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    with RESULTS.open("a") as out:
        out.write(json.dumps(result) + "\n")
