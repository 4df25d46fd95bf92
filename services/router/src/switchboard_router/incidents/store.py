"""An incident's stored rows as every step changes them: its summary refreshed from its
members, one incident folded into another, an audit row on a member, lookups for the
timers and the gauge. Shared by the clustering stage and the officers' steps."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    func,
    insert,
    select,
    update,
)

from switchboard_router.db.engine import aware
from switchboard_router.db.tables import audit, incident_members, incidents, items
from switchboard_router.incidents.clustering import (
    MEMBER_LINKS,
    IncidentStatus,
    summarise,
)


class IncidentAction(StrEnum):
    """What happened to an item's incident membership (its audit row's action)."""

    LINKED = "incident_linked"
    CONFIRMED = "incident_confirmed"
    REJECTED = "incident_rejected"
    MERGED = "incident_merged"
    SPLIT = "incident_split"
    RESOLVED = "incident_resolved"


def fold(conn: Connection, *, into: int, other_id: int, now: datetime) -> list[int]:
    """Move every stored member row of `other_id` into `into` and leave `other_id` merged,
    pointing at it; the item ids moved. The caller refreshes `into`'s summary."""
    moved = list(
        conn.scalars(
            select(incident_members.c.item_id).where(incident_members.c.incident_id == other_id)
        )
    )
    conn.execute(
        update(incident_members)
        .where(incident_members.c.incident_id == other_id)
        .values(incident_id=into)
    )
    conn.execute(
        update(incidents)
        .where(incidents.c.id == other_id)
        .values(status=IncidentStatus.MERGED, merged_into=into, member_count=0, updated_at=now)
    )
    return moved


def refresh(conn: Connection, incident_id: int, now: datetime) -> int:
    """Summarise the incident from its automatic and confirmed members; their count."""
    members = conn.execute(
        select(items.c.urgency, items.c.topics, items.c.received_at, items.c.place)
        .join(incident_members, incident_members.c.item_id == items.c.id)
        .where(
            incident_members.c.incident_id == incident_id,
            incident_members.c.link.in_(MEMBER_LINKS),
        )
        .order_by(items.c.received_at, items.c.id)
    ).all()
    if not members:
        conn.execute(
            update(incidents)
            .where(incidents.c.id == incident_id)
            .values(member_count=0, updated_at=now)
        )
        return 0
    summary = summarise([(m.urgency, m.topics or (), aware(m.received_at)) for m in members])  # type: ignore[misc]
    first_place = members[0].place or {}
    conn.execute(
        update(incidents)
        .where(incidents.c.id == incident_id)
        .values(
            urgency=summary.urgency,
            urgency_rank=summary.urgency.rank,
            topics=summary.topics,
            first_seen=summary.first_seen,
            last_seen=summary.last_seen,
            member_count=summary.member_count,
            district=first_place.get("district"),
            place=first_place.get("label") or first_place.get("text"),
            updated_at=now,
        )
    )
    return summary.member_count


def write_audit(
    conn: Connection,
    item_ids: Iterable[int],
    action: IncidentAction,
    *,
    actor: str,
    now: datetime,
    **details: Any,
) -> None:
    """One audit row per item, each with the item's queue and the same details."""
    ids = sorted(set(item_ids))
    if not ids:
        return
    queue_of = dict(
        conn.execute(select(items.c.id, items.c.queue_id).where(items.c.id.in_(ids))).all()
    )
    shown = {k: (v.value if isinstance(v, StrEnum) else v) for k, v in details.items()}
    conn.execute(
        insert(audit),
        [
            {
                "item_id": item_id,
                "queue_id": queue_of.get(item_id),
                "at": now,
                "actor": actor,
                "action": action.value,
                "details": shown,
            }
            for item_id in ids
        ],
    )


def incident_of(conn: Connection, item_id: int) -> tuple[int, int] | None:
    """The open or resolved incident an item is a member of, and its member count."""
    row = conn.execute(
        select(incidents.c.id, incidents.c.member_count)
        .join(incident_members, incident_members.c.incident_id == incidents.c.id)
        .where(
            incident_members.c.item_id == item_id,
            incident_members.c.link.in_(MEMBER_LINKS),
            incidents.c.status != IncidentStatus.MERGED,
        )
    ).first()
    return (int(row.id), int(row.member_count)) if row is not None else None


def count_open(engine: Engine) -> int:
    """How many incidents are open (the gauge)."""
    with engine.connect() as conn:
        return int(
            conn.scalar(
                select(func.count())
                .select_from(incidents)
                .where(incidents.c.status == IncidentStatus.OPEN)
            )
            or 0
        )
