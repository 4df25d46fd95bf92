"""The router's store: idempotent writes of queue items, and the reads the API serves.

Keyword-only functions over a SQLAlchemy engine (sync: called from a thread by
the consumer, from FastAPI's thread pool by the API). Works on PostgreSQL and
SQLite; the one dialect-specific piece is INSERT ... ON CONFLICT DO NOTHING.
A new item gets its watch copies and its `queued` audit record in the same
transaction, so a replayed mention adds none of them twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, func, insert, or_, select, tuple_

from switchboard_router.db.engine import insert_ignore
from switchboard_router.db.tables import audit, items, queues, watches


@dataclass(frozen=True)
class NewItem:
    """A queue item to store."""

    mention_id: str
    queue_id: str
    urgency: str
    urgency_rank: int
    score: float
    topics: list[str]
    reasons: list[dict[str, Any]]
    rule: str
    ruleset_version: str
    policy_version: str
    source: str
    source_id: str
    text: str
    mention: dict[str, Any]
    received_at: datetime
    classified_at: datetime
    priority_rank: int = 2
    sla_due_at: datetime | None = None
    watch_queues: tuple[str, ...] = field(default=())
    queued_at: datetime | None = None


@dataclass(frozen=True)
class StoredItem:
    """An item as stored, and whether this call created it."""

    item_id: int
    mention_id: str
    queue_id: str
    created: bool


def save_items(engine: Engine, *, new_items: list[NewItem]) -> list[StoredItem]:
    """Store items in one transaction; a mention already stored is left as it is."""
    if not new_items:
        return []
    mention_ids = [item.mention_id for item in new_items]
    with engine.begin() as connection:
        before = set(
            connection.scalars(
                select(items.c.mention_id).where(items.c.mention_id.in_(mention_ids))
            )
        )
        queue_ids = sorted(
            {item.queue_id for item in new_items} | {w for i in new_items for w in i.watch_queues}
        )
        connection.execute(
            insert_ignore(engine, queues).on_conflict_do_nothing(index_elements=["id"]),
            [{"id": q} for q in queue_ids],
        )
        connection.execute(
            insert_ignore(engine, items).on_conflict_do_nothing(index_elements=["mention_id"]),
            [_row(item) for item in new_items],
        )
        rows = connection.execute(
            select(items.c.id, items.c.mention_id, items.c.queue_id, items.c.queued_at).where(
                items.c.mention_id.in_(mention_ids)
            )
        ).all()
        by_mention = {item.mention_id: item for item in new_items}
        created = [row for row in rows if row.mention_id not in before]
        copies = [
            {"queue_id": w, "item_id": row.id}
            for row in created
            for w in by_mention[row.mention_id].watch_queues
        ]
        if copies:
            connection.execute(insert(watches), copies)
        if created:
            connection.execute(
                insert(audit),
                [
                    {
                        "item_id": row.id,
                        "queue_id": row.queue_id,
                        "at": by_mention[row.mention_id].queued_at or row.queued_at,
                        "actor": "router",
                        "action": "queued",
                        "details": {
                            "rule": by_mention[row.mention_id].rule,
                            "policy_version": by_mention[row.mention_id].policy_version,
                            "watch_queues": list(by_mention[row.mention_id].watch_queues),
                        },
                    }
                    for row in created
                ],
            )
    return [
        StoredItem(
            item_id=row.id,
            mention_id=row.mention_id,
            queue_id=row.queue_id,
            created=row.mention_id not in before,
        )
        for row in rows
    ]


def _row(item: NewItem) -> dict[str, Any]:
    row = {k: v for k, v in item.__dict__.items() if k not in ("watch_queues", "queued_at")}
    if item.queued_at is not None:
        row["queued_at"] = item.queued_at
    return row


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
        .where(items.c.status == "open")
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


def queue_exists(engine: Engine, *, queue_id: str) -> bool:
    """True when the queue exists."""
    with engine.connect() as connection:
        return connection.scalar(select(queues.c.id).where(queues.c.id == queue_id)) is not None


def list_items(
    engine: Engine,
    *,
    queue_id: str,
    limit: int,
    after: tuple[int, datetime, int] | None,
    statuses: tuple[str, ...] | None = None,
) -> list[dict[str, Any]]:
    """Items of a queue and its watch copies, by priority then oldest; `after` is the last sort key."""
    watched = select(watches.c.item_id).where(watches.c.queue_id == queue_id)
    query = select(items).where(or_(items.c.queue_id == queue_id, items.c.id.in_(watched)))
    if statuses is not None:
        query = query.where(items.c.status.in_(statuses))
    if after is not None:
        query = query.where(
            tuple_(items.c.priority_rank, items.c.received_at, items.c.id) > tuple_(*after)
        )
    query = query.order_by(items.c.priority_rank, items.c.received_at, items.c.id).limit(limit)
    with engine.connect() as connection:
        return [dict(row._mapping) for row in connection.execute(query)]


def count_items(engine: Engine) -> int:
    """How many items the store holds."""
    with engine.connect() as connection:
        return int(connection.scalar(select(func.count()).select_from(items)) or 0)
