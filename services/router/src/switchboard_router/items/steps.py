"""What every step on an item shares, and the first step, `queued`.

A step is one database transaction that changes the item, appends its audit
record and queues its event in the outbox (`record`). Claims are atomic on
PostgreSQL and SQLite alike: a conditional `UPDATE items ... WHERE id = :id AND
status = 'open'` and its row count. Under PostgreSQL's read-committed isolation
a second concurrent UPDATE waits for the first's row lock, re-reads the row,
finds it no longer open and changes nothing; SQLite serialises writers.
Exactly one caller sees rowcount 1.

Events are not sent from here: they go into the `outbox` table in the same
transaction and the relay (`kafka/relay.py`) publishes them after the commit, so a
crash between commit and send delays an event but never loses it
(at-least-once; every event carries its own `event_id`).

`queued` (`save_items`) is a step like the others: the transaction that stores
the items writes each new item's audit row and outbox event (`step_rows`), so a
crash after the commit delays the `queued` event but never loses it, and a
replayed mention adds no second audit row. A mention delivered again is
announced again on the routed topic (an outbox event without an audit row), as
it always was, so a reader of that topic can rebuild it from a replay.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import Connection, Engine, and_, insert, or_, select, update

from switchboard_router import metrics
from switchboard_router.db.engine import aware, insert_ignore
from switchboard_router.db.tables import audit, items, outbox, queues, watches
from switchboard_router.items.status import ItemStatus
from switchboard_router.people.security import Principal
from switchboard_router.routing.policy import Policy
from switchboard_shared.events import MentionRouted, RoutedAction, Urgency, utc_now
from switchboard_shared.topics import ROUTED, TopicSpec

ROUTER_ACTOR = "router"


class WorkError(Exception):
    """A step that cannot be done: an HTTP status, a problem kind and the reason."""

    status = 400
    kind = "bad-request"

    def __init_subclass__(cls, *, status: int, kind: str) -> None:
        super().__init_subclass__()
        cls.status, cls.kind = status, kind

    def __init__(self, detail: str, field: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.field = field


class NotFound(WorkError, status=404, kind="not-found"):
    """No such thing, or one the caller may not see."""


class Forbidden(WorkError, status=403, kind="forbidden"):
    """The caller sees the item but may not do this to it."""


class Conflict(WorkError, status=409, kind="conflict"):
    """The item is not in a state that allows this (claimed by someone else, resolved...)."""


class Invalid(WorkError, status=422, kind="invalid-request"):
    """A field names something that does not exist or cannot be used."""


def outbox_row(spec: TopicSpec, key: str, event: Any, now: datetime) -> dict[str, Any]:
    """The outbox row that publishes `event` on `spec` after the commit."""
    return {
        "topic": spec.base_name,
        "key": key,
        "payload": event.model_dump_json(),
        "created_at": now,
    }


def enqueue(conn: Connection, spec: TopicSpec, key: str, event: Any, now: datetime) -> None:
    """Put an event in the outbox; the relay publishes it after the commit."""
    conn.execute(insert(outbox).values(**outbox_row(spec, key, event, now)))


def routed_row(
    row: Any, action: RoutedAction, *, actor: str, now: datetime, details: dict[str, Any]
) -> dict[str, Any]:
    """The outbox row announcing a step on `row` (the item after it) on the routed topic."""
    event = MentionRouted(
        mention_id=row.mention_id,
        item_id=row.id,
        queue_id=row.queue_id,
        action=action,
        rule=row.rule,
        urgency=Urgency(row.urgency),
        at=now,
        actor=actor,
        assignee=row.assignee,
        status=row.status,
        details=details,
    )
    return outbox_row(ROUTED, row.mention_id, event, now)


def step_rows(
    row: Any,
    action: RoutedAction,
    *,
    actor: str,
    now: datetime,
    details: dict[str, Any] | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The audit row and the outbox row of a step on `row` (the item after it)."""
    details = json.loads(json.dumps(details or {}, default=str))
    audit_row = {
        "item_id": row.id,
        "queue_id": row.queue_id,
        "at": now,
        "actor": actor,
        "action": action.value,
        "details": details,
    }
    return audit_row, routed_row(row, action, actor=actor, now=now, details=details)


def record(
    conn: Connection,
    row: Any,
    action: RoutedAction,
    *,
    actor: str,
    now: datetime,
    details: dict[str, Any] | None = None,
) -> None:
    """Append the audit record of a step on `row` (the item after it) and queue its event."""
    audit_row, event_row = step_rows(row, action, actor=actor, now=now, details=details)
    conn.execute(insert(audit).values(**audit_row))
    conn.execute(insert(outbox).values(**event_row))


def load(conn: Connection, item_id: int, *, lock: bool = False) -> Any:
    """The item row, or None."""
    query = select(items).where(items.c.id == item_id)
    if lock and conn.dialect.name == "postgresql":
        query = query.with_for_update()
    return conn.execute(query).first()


def watch_queues(conn: Connection, item_id: int) -> frozenset[str]:
    """The watch queues an item is copied to."""
    return frozenset(conn.scalars(select(watches.c.queue_id).where(watches.c.item_id == item_id)))


def visible(conn: Connection, actor: Principal, item_id: int, *, lock: bool = False) -> Any:
    row = load(conn, item_id, lock=lock)
    if row is None or not actor.can_read(row.queue_id, watch_queues(conn, item_id)):
        raise NotFound(f"item {item_id} does not exist")
    return row


def actable(conn: Connection, actor: Principal, item_id: int) -> Any:
    row = visible(conn, actor, item_id)
    if not actor.can_act(row.queue_id):
        raise Forbidden(f"item {item_id}: you may read but not work on items of {row.queue_id!r}")
    return row


def change(conn: Connection, item_id: int, *conditions: Any, **values: Any) -> bool:
    result = conn.execute(update(items).where(items.c.id == item_id, *conditions).values(**values))
    return result.rowcount == 1


def written_at(mention: Any) -> datetime | None:
    """When the citizen posted (the stored mention's `created_at`), if it reads as a time."""
    raw = (mention or {}).get("created_at") if isinstance(mention, dict) else mention
    if not raw:
        return None
    try:
        written = datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
    except ValueError:
        return None
    return written if written.tzinfo else written.replace(tzinfo=UTC)


def since_queued(row: Any, now: datetime) -> float:
    return max(0.0, (now - (aware(row.queued_at) or now)).total_seconds())


@dataclass(frozen=True)
class StepContext:
    """What every step needs besides the item: the time it happens, the lease length and
    the policy in force (the scheduler builds one per tick, the views one per request)."""

    now: datetime
    lease_seconds: float
    policy: Policy

    @property
    def lease_until(self) -> datetime:
        """When a claim taken now expires without a heartbeat."""
        return self.now + timedelta(seconds=self.lease_seconds)


def assign(
    conn: Connection,
    row: Any,
    officer_id: str,
    context: StepContext,
    *,
    actor: str,
    action: RoutedAction,
) -> bool:
    """Give an open item to an officer (a claim on their behalf); False if it is no longer open."""
    if not change(
        conn,
        row.id,
        items.c.status == ItemStatus.OPEN,
        status=ItemStatus.CLAIMED,
        assignee=officer_id,
        claimed_at=context.now,
        lease_expires_at=context.lease_until,
        sla_due_at=context.policy.ack_due(row.queue_id, Urgency(row.urgency), context.now),
        breach=None,
        breached_at=None,
        updated_at=context.now,
    ):
        return False
    after = load(conn, row.id)
    record(
        conn,
        after,
        action,
        actor=actor,
        now=context.now,
        details={"lease_expires_at": context.lease_until.isoformat()},
    )
    metrics.TIME_TO_CLAIM.labels(row.urgency).observe(since_queued(row, context.now))
    return True


def holder_or_supervisor(actor: Principal, row: Any) -> None:
    if row.assignee != actor.officer_id and not actor.is_supervisor:
        raise Conflict(f"item {row.id} is not yours; a supervisor can act on it for its holder")


def reopen_values(context: StepContext, queue_id: str, urgency: str) -> dict[str, Any]:
    """The columns that put an item back in a queue's pool."""
    return {
        "status": ItemStatus.OPEN,
        "assignee": None,
        "claimed_at": None,
        "lease_expires_at": None,
        "acknowledged_at": None,
        "sla_due_at": context.policy.claim_due(queue_id, Urgency(urgency), context.now),
        "updated_at": context.now,
    }


def visible_queue_filter(actor: Principal) -> Any:
    """A WHERE clause on audit rows the caller may see (for the stream)."""
    if actor.sees_everything:
        return and_(True)
    watched = select(watches.c.item_id).where(watches.c.queue_id.in_(sorted(actor.queues)))
    return or_(audit.c.queue_id.in_(sorted(actor.queues)), audit.c.item_id.in_(watched))


def visible_item_filter(actor: Principal) -> Any:
    """A WHERE clause on items the caller may see now (their queue, or a watch copy)."""
    if actor.sees_everything:
        return and_(True)
    watched = select(watches.c.item_id).where(watches.c.queue_id.in_(sorted(actor.queues)))
    return or_(items.c.queue_id.in_(sorted(actor.queues)), items.c.id.in_(watched))


class ItemFacts(BaseModel):
    """What an item is about, stored with it and shown as stored: the mention's source and
    text, the classifier's verdict and the rule that placed it."""

    mention_id: str
    queue_id: str
    urgency: str
    score: float
    topics: list[str]
    reasons: list[dict[str, Any]]
    rule: str
    ruleset_version: str
    policy_version: str
    source: str
    source_id: str
    text: str


class NewItem(ItemFacts):
    """A queue item to store."""

    model_config = ConfigDict(frozen=True)

    urgency_rank: int
    mention: dict[str, Any]
    received_at: datetime
    classified_at: datetime
    priority_rank: int = 2
    sla_due_at: datetime | None = None
    watch_queues: tuple[str, ...] = ()
    queued_at: datetime | None = None


@dataclass(frozen=True)
class StoredItem:
    """An item as stored, and whether this call created it."""

    item_id: int
    mention_id: str
    queue_id: str
    created: bool


def save_items(engine: Engine, *, new_items: list[NewItem]) -> list[StoredItem]:
    """Store items in one transaction with their `queued` audit rows and events; a mention
    already stored is left as it is and only announced again."""
    if not new_items:
        return []
    mention_ids = [item.mention_id for item in new_items]
    now = utc_now()
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
            select(*(items.c[name] for name in _ANNOUNCED)).where(
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
        queued = [_queued_rows(row, by_mention[row.mention_id]) for row in created]
        if queued:
            connection.execute(insert(audit), [audit_row for audit_row, _ in queued])
        events = [event_row for _, event_row in queued] + [
            routed_row(row, RoutedAction.QUEUED, actor=ROUTER_ACTOR, now=now, details={})
            for row in rows
            if row.mention_id in before
        ]
        if events:
            connection.execute(insert(outbox), events)
    return [
        StoredItem(
            item_id=row.id,
            mention_id=row.mention_id,
            queue_id=row.queue_id,
            created=row.mention_id not in before,
        )
        for row in rows
    ]


# The columns of a stored item that its `queued` step needs.
_ANNOUNCED = ("id", "mention_id", "queue_id", "queued_at", "rule", "urgency", "assignee", "status")


def _queued_rows(row: Any, item: NewItem) -> tuple[dict[str, Any], dict[str, Any]]:
    return step_rows(
        row,
        RoutedAction.QUEUED,
        actor=ROUTER_ACTOR,
        now=item.queued_at or aware(row.queued_at),  # type: ignore[arg-type]
        details={
            "rule": item.rule,
            "policy_version": item.policy_version,
            "watch_queues": list(item.watch_queues),
        },
    )


def _row(item: NewItem) -> dict[str, Any]:
    row = item.model_dump(exclude={"watch_queues", "queued_at"})
    if item.queued_at is not None:
        row["queued_at"] = item.queued_at
    return row
