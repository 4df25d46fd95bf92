"""An escalation to build the notifier's unit tests on: item 7's claim breached at tier 1."""

from datetime import UTC, datetime
from typing import Any

from switchboard_shared.events import MentionEscalated

BREACHED_AT = datetime(2026, 12, 3, tzinfo=UTC)


def escalation(**fields: Any) -> MentionEscalated:
    """Mention m-1 of item 7 breached its claim at tier 1; `fields` give the queue and
    the urgency, and change anything else."""
    values: dict[str, Any] = {
        "mention_id": "m-1",
        "item_id": 7,
        "tier": 1,
        "breach": "claim",
        "breached_at": BREACHED_AT,
        **fields,
    }
    return MentionEscalated(**values)
