"""Who gets the next item of a queue that assigns instead of letting officers claim.

Pure: the clock reads the candidates (members of the queue on duty, their
current load and capacity, when each was last given an item of this queue)
from the database and asks here. Only officers below capacity are
candidates in either mode, so a busy officer is never handed more work.

- `round_robin`: the candidate given an item of this queue longest ago (never
  first), ties by officer id — a stable rotation that survives restarts
  because "last assigned" is stored per membership.
- `least_loaded`: the candidate with the most spare capacity relative to
  their capacity (load / capacity lowest), ties broken like round-robin so equal
  officers still take turns.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class AssignmentMode(StrEnum):
    """How a queue's items reach officers."""

    OPEN = "open"
    ROUND_ROBIN = "round_robin"
    LEAST_LOADED = "least_loaded"


@dataclass(frozen=True)
class Candidate:
    """An on-duty member of the queue."""

    officer_id: str
    load: int
    capacity: int
    last_assigned_at: datetime | None


def _rotation_key(c: Candidate) -> tuple[int, str, str]:
    # Never-assigned officers first, then the longest-waiting; ISO strings sort as times.
    return (
        0 if c.last_assigned_at is None else 1,
        c.last_assigned_at.isoformat() if c.last_assigned_at else "",
        c.officer_id,
    )


def choose(mode: AssignmentMode, candidates: list[Candidate]) -> Candidate | None:
    """The officer to give the next item to, or None when nobody has room (or mode is open)."""
    free = [c for c in candidates if c.load < c.capacity]
    if mode is AssignmentMode.OPEN or not free:
        return None
    if mode is AssignmentMode.ROUND_ROBIN:
        return min(free, key=_rotation_key)
    return min(free, key=lambda c: (c.load / c.capacity, *_rotation_key(c)))
