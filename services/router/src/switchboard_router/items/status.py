"""An item's states and how it can be closed: the words every other module uses."""

from __future__ import annotations

from enum import StrEnum


class ItemStatus(StrEnum):
    """Where an item is in its life: in the pool, held by an officer, or closed."""

    OPEN = "open"
    CLAIMED = "claimed"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


# Held by an officer: the states a holder (or a supervisor) acts in.
HELD = (ItemStatus.CLAIMED, ItemStatus.ACKNOWLEDGED)
# Not closed yet: what a queue's default listing shows.
ACTIVE = (ItemStatus.OPEN, *HELD)
# Still running against an SLA deadline (claim while open, acknowledge while claimed).
ON_THE_CLOCK = (ItemStatus.OPEN, ItemStatus.CLAIMED)
