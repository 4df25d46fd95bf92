"""The item routes' request and response models (`XCreate` / `XPublic`)."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field

from switchboard_router.db.engine import aware
from switchboard_router.fields import (
    MAX_ITEM_ID,
    Body,
    OfficerId,
    QueueId,
    Text,
    Topic,
    UtcDatetime,
)
from switchboard_router.items.status import ItemStatus
from switchboard_router.items.steps import ItemFacts
from switchboard_shared.events import Disposition, Urgency


class ItemPublic(ItemFacts):
    """A queue item with the classifier's reasons, the rule that placed it and its work state."""

    item_id: int
    status: ItemStatus
    priority_rank: int = Field(
        description="Lower is served first: the urgency's rank minus raises."
    )
    received_at: UtcDatetime
    classified_at: UtcDatetime
    queued_at: UtcDatetime
    assignee: str | None
    claimed_at: UtcDatetime | None
    lease_expires_at: UtcDatetime | None
    acknowledged_at: UtcDatetime | None
    resolved_at: UtcDatetime | None
    disposition: str | None
    sla_due_at: UtcDatetime | None
    breached_at: UtcDatetime | None
    breach: str | None
    escalation_tier: int
    updated_at: UtcDatetime | None

    @classmethod
    def of(cls, row: dict[str, Any]) -> ItemPublic:
        """From a stored row."""
        return cls(item_id=row["id"], **{k: v for k, v in row.items() if k in cls.model_fields})


class NotePublic(BaseModel):
    """A note on an item."""

    note_id: int
    item_id: int
    officer_id: str
    at: UtcDatetime
    text: str


class AuditPublic(BaseModel):
    """One step in an item's history."""

    audit_id: int
    at: UtcDatetime
    actor: str
    action: str
    queue_id: str | None
    details: dict[str, Any]


class ItemDetail(ItemPublic):
    """An item with its mention, watch queues, notes and audit trail."""

    mention: dict[str, Any]
    watch_queues: list[str]
    notes: list[NotePublic]
    audit: list[AuditPublic]


class ItemPage(BaseModel):
    """One page of a queue, by priority then oldest first."""

    queue_id: str
    items: list[ItemPublic]
    next_cursor: str | None


class Transfer(Body):
    """Where the item goes: another queue's pool, an officer, or both."""

    queue_id: QueueId | None = None
    officer_id: OfficerId | None = None
    reason: Text | None = None


class Resolve(Body):
    """How the item was closed."""

    disposition: Disposition
    note: Text | None = None


class NoteCreate(Body):
    """A note to attach."""

    text: Text


class FeedbackCreate(Body):
    """A correction of the classifier's verdict, for it to learn from."""

    urgency: Urgency | None = None
    topics: Annotated[list[Topic], Field(max_length=20)] | None = None
    comment: Text | None = None


class FeedbackPublic(BaseModel):
    """The feedback as published to `mentions.feedback.v1`."""

    event_id: str
    mention_id: str
    item_id: int
    urgency: Urgency | None
    topics: list[str] | None
    comment: str | None


# The page cursor is part of the wire format: opaque to clients, read back here.
def encode_cursor(row: dict[str, Any]) -> str:
    """The `next_cursor` after `row`: its sort key (priority, received, id), opaque to clients."""
    key = [row["priority_rank"], aware(row["received_at"]).isoformat(), row["id"]]  # type: ignore[union-attr]
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode()


def decode_cursor(cursor: str) -> tuple[int, datetime, int]:
    """The sort key in a cursor `encode_cursor` made; ValueError for anything else."""
    try:
        rank, received, item_id = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        when = datetime.fromisoformat(received)
        when = when.astimezone(UTC) if when.tzinfo else when.replace(tzinfo=UTC)
        rank, item_id = int(rank), int(item_id)
        if not (-(2**15) < rank < 2**15 and 0 <= item_id <= MAX_ITEM_ID):
            raise ValueError("out of range")
        return rank, when, item_id
    except (binascii.Error, ValueError, TypeError, OverflowError, UnicodeError) as exc:
        raise ValueError("not a cursor this API issued") from exc
