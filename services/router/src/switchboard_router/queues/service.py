"""Queues and their members: the store side of the queue routes.

Keyword-only functions over an engine. Admin-only rules are enforced by the
views; this module keeps the data consistent, and every change writes its
access-audit row in the change's own transaction.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from switchboard_router.audit.service import AccessAction, By, record
from switchboard_router.db.tables import items, memberships, officers, queues
from switchboard_router.items.status import ItemStatus
from switchboard_router.people.service import Exists, Missing, officer_record
from switchboard_router.routing.policy import Policy, QueueSettings


def list_queues(engine: Engine, *, only: frozenset[str] | None = None) -> list[dict[str, Any]]:
    """Queues (all, or those in `only`) with open depth by urgency and oldest open item."""
    open_items = (
        select(
            items.c.queue_id,
            items.c.urgency,
            func.count().label("depth"),
            func.min(items.c.received_at).label("oldest_received_at"),
            func.min(items.c.urgency_rank).label("top_rank"),
        )
        .where(items.c.status == ItemStatus.OPEN)
        .group_by(items.c.queue_id, items.c.urgency)
        .subquery()
    )
    query = (
        select(
            queues.c.id,
            queues.c.assignment_mode,
            queues.c.supervisor_queue,
            open_items.c.urgency,
            open_items.c.depth,
            open_items.c.oldest_received_at,
            open_items.c.top_rank,
        )
        .select_from(queues.outerjoin(open_items, open_items.c.queue_id == queues.c.id))
        .order_by(queues.c.id)
    )
    if only is not None:
        query = query.where(queues.c.id.in_(sorted(only)))
    out: dict[str, dict[str, Any]] = {}
    with engine.connect() as connection:
        for row in connection.execute(query):
            q = out.setdefault(
                row.id,
                {
                    "queue_id": row.id,
                    "depth": 0,
                    "depth_by_urgency": {},
                    "oldest_received_at": None,
                    "top_urgency_rank": None,
                    "assignment_mode": row.assignment_mode,
                    "supervisor_queue": row.supervisor_queue,
                },
            )
            if row.urgency is None:
                continue
            q["depth"] += row.depth
            q["depth_by_urgency"][row.urgency] = row.depth
            oldest = row.oldest_received_at
            if q["oldest_received_at"] is None or (
                oldest is not None and oldest < q["oldest_received_at"]
            ):
                q["oldest_received_at"] = oldest
            if q["top_urgency_rank"] is None or row.top_rank < q["top_urgency_rank"]:
                q["top_urgency_rank"] = row.top_rank
    return list(out.values())


def _known(conn: Connection, queue_id: str) -> bool:
    return conn.scalar(select(queues.c.id).where(queues.c.id == queue_id)) is not None


def _require_queue(conn: Connection, queue_id: str) -> None:
    """Missing unless the queue exists."""
    if not _known(conn, queue_id):
        raise Missing(f"queue {queue_id!r} does not exist")


def queue_exists(engine: Engine, *, queue_id: str) -> bool:
    """True when the queue exists."""
    with engine.connect() as connection:
        return _known(connection, queue_id)


def create_queue(
    engine: Engine,
    *,
    queue_id: str,
    assignment_mode: str | None,
    supervisor_queue: str | None,
    now: datetime,
    by: By,
) -> None:
    """A new queue; Exists if it is there already."""
    try:
        with engine.begin() as conn:
            conn.execute(
                insert(queues).values(
                    id=queue_id,
                    assignment_mode=assignment_mode,
                    supervisor_queue=supervisor_queue,
                    created_at=now,
                )
            )
            record(
                conn,
                by,
                AccessAction.QUEUE_CREATED,
                obj=f"queue:{queue_id}",
                now=now,
                details={"assignment_mode": assignment_mode, "supervisor_queue": supervisor_queue},
            )
    except IntegrityError as exc:
        raise Exists(f"queue {queue_id!r} exists") from exc


def update_queue(
    engine: Engine, *, queue_id: str, changes: dict[str, Any], now: datetime, by: By
) -> None:
    """Change a queue's assignment mode or supervisor queue; Missing if unknown."""
    with engine.begin() as conn:
        _require_queue(conn, queue_id)
        if changes:
            conn.execute(update(queues).where(queues.c.id == queue_id).values(**changes))
            record(
                conn,
                by,
                AccessAction.QUEUE_UPDATED,
                obj=f"queue:{queue_id}",
                now=now,
                details=changes,
            )


def _member(queue_id: str, officer_id: str) -> tuple[Any, ...]:
    """The WHERE clause of one membership."""
    return (memberships.c.queue_id == queue_id, memberships.c.officer_id == officer_id)


def _record_membership(
    conn: Connection, by: By, action: AccessAction, queue_id: str, officer_id: str, now: datetime
) -> None:
    record(conn, by, action, obj=f"queue:{queue_id}", now=now, details={"officer_id": officer_id})


def is_member(conn: Connection, queue_id: str, officer_id: str) -> bool:
    """Whether the officer is in the queue."""
    return (
        conn.scalar(select(memberships.c.officer_id).where(*_member(queue_id, officer_id)))
        is not None
    )


def add_member(engine: Engine, *, queue_id: str, officer_id: str, now: datetime, by: By) -> bool:
    """Put an officer in a queue; False when they were already a member."""
    with engine.begin() as conn:
        _require_queue(conn, queue_id)
        officer_record(conn, officer_id)
        if is_member(conn, queue_id, officer_id):
            return False
        conn.execute(
            insert(memberships).values(queue_id=queue_id, officer_id=officer_id, created_at=now)
        )
        _record_membership(conn, by, AccessAction.MEMBER_ADDED, queue_id, officer_id, now)
        return True


def remove_member(engine: Engine, *, queue_id: str, officer_id: str, now: datetime, by: By) -> None:
    """Take an officer out of a queue; Missing if they were not in it."""
    with engine.begin() as conn:
        result = conn.execute(delete(memberships).where(*_member(queue_id, officer_id)))
        if result.rowcount == 0:
            raise Missing(f"officer {officer_id!r} is not a member of queue {queue_id!r}")
        _record_membership(conn, by, AccessAction.MEMBER_REMOVED, queue_id, officer_id, now)


def list_members(engine: Engine, *, queue_id: str) -> list[dict[str, Any]]:
    """The members of a queue with their duty and capacity."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                officers.c.id,
                officers.c.name,
                officers.c.role,
                officers.c.on_duty,
                officers.c.capacity,
            )
            .select_from(memberships.join(officers, officers.c.id == memberships.c.officer_id))
            .where(memberships.c.queue_id == queue_id)
            .order_by(officers.c.id)
        ).all()
    return [dict(r._mapping) for r in rows]


def settings_of(conn: Connection, policy: Policy, queue_id: str) -> QueueSettings:
    """A queue's settings in force: its stored ones, else the policy's."""
    row = conn.execute(
        select(queues.c.assignment_mode, queues.c.supervisor_queue).where(queues.c.id == queue_id)
    ).first()
    return policy.settings_for(
        queue_id,
        assignment_mode=row.assignment_mode if row else None,
        supervisor_queue=row.supervisor_queue if row else None,
    )
