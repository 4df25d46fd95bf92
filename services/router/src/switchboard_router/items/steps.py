"""Work on queue items: claim, heartbeat, acknowledge, release, transfer, resolve,
notes and feedback — each one database transaction that changes the item,
appends an audit record and queues the event in the outbox.

Claims are atomic on PostgreSQL and SQLite alike: a conditional
`UPDATE items ... WHERE id = :id AND status = 'open'` and its row count. Under
PostgreSQL's read-committed isolation a second concurrent UPDATE waits for the
first's row lock, re-reads the row, finds it no longer open and changes
nothing; SQLite serialises writers. Exactly one caller sees rowcount 1.

Events are not sent from here: they go into the `outbox` table in the same
transaction and the relay (`relay.py`) publishes them after the commit, so a
crash between commit and send delays an event but never loses it
(at-least-once; every event carries its own `event_id`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, and_, insert, or_, select, update

from switchboard_router import metrics
from switchboard_router.db.engine import aware
from switchboard_router.db.tables import (
    audit,
    items,
    memberships,
    notes,
    officers,
    outbox,
    queues,
    watches,
)
from switchboard_router.people.security import Principal
from switchboard_router.routing.policy import Policy
from switchboard_shared.events import MentionFeedback, MentionRouted, RoutedAction, Urgency
from switchboard_shared.topics import FEEDBACK, ROUTED, TopicSpec

ROUTER_ACTOR = "router"
ACTIVE = ("claimed", "acknowledged")
DISPOSITIONS = ("actioned", "referred", "duplicate", "no_action", "false_alarm")


class WorkError(Exception):
    """A step that cannot be done: an HTTP status, a problem kind and the reason."""

    status = 400
    kind = "bad-request"

    def __init__(self, detail: str, field: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.field = field


class NotFound(WorkError):
    """No such thing, or one the caller may not see."""

    status = 404
    kind = "not-found"


class Forbidden(WorkError):
    """The caller sees the item but may not do this to it."""

    status = 403
    kind = "forbidden"


class Conflict(WorkError):
    """The item is not in a state that allows this (claimed by someone else, resolved...)."""

    status = 409
    kind = "conflict"


class Invalid(WorkError):
    """A field names something that does not exist or cannot be used."""

    status = 422
    kind = "invalid-request"


def enqueue(conn: Connection, spec: TopicSpec, key: str, event: Any, now: datetime) -> None:
    """Put an event in the outbox; the relay publishes it after the commit."""
    conn.execute(
        insert(outbox).values(
            topic=spec.base_name, key=key, payload=event.model_dump_json(), created_at=now
        )
    )


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
    details = json.loads(json.dumps(details or {}, default=str))
    conn.execute(
        insert(audit).values(
            item_id=row.id,
            queue_id=row.queue_id,
            at=now,
            actor=actor,
            action=action.value,
            details=details,
        )
    )
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
    enqueue(conn, ROUTED, row.mention_id, event, now)


def load(conn: Connection, item_id: int, *, lock: bool = False) -> Any:
    """The item row, or None."""
    query = select(items).where(items.c.id == item_id)
    if lock and conn.dialect.name == "postgresql":
        query = query.with_for_update()
    return conn.execute(query).first()


def watch_queues(conn: Connection, item_id: int) -> frozenset[str]:
    """The watch queues an item is copied to."""
    return frozenset(conn.scalars(select(watches.c.queue_id).where(watches.c.item_id == item_id)))


def _visible(conn: Connection, actor: Principal, item_id: int, *, lock: bool = False) -> Any:
    row = load(conn, item_id, lock=lock)
    if row is None or not actor.can_read(row.queue_id, watch_queues(conn, item_id)):
        raise NotFound(f"item {item_id} does not exist")
    return row


def _actable(conn: Connection, actor: Principal, item_id: int) -> Any:
    row = _visible(conn, actor, item_id)
    if not actor.can_act(row.queue_id):
        raise Forbidden(f"item {item_id}: you may read but not work on items of {row.queue_id!r}")
    return row


def _change(conn: Connection, item_id: int, *conditions: Any, **values: Any) -> bool:
    result = conn.execute(update(items).where(items.c.id == item_id, *conditions).values(**values))
    return result.rowcount == 1


def claim_due(policy: Policy, queue_id: str, urgency: str, since: datetime) -> datetime | None:
    """When an item entering the pool of `queue_id` at `since` must be claimed."""
    sla = policy.sla_for(queue_id, Urgency(urgency))
    return None if sla is None else sla.claim_due(since)


def ack_due(policy: Policy, queue_id: str, urgency: str, claimed_at: datetime) -> datetime | None:
    """When an item claimed at `claimed_at` must be acknowledged."""
    sla = policy.sla_for(queue_id, Urgency(urgency))
    return None if sla is None else sla.ack_due(claimed_at)


def _since_queued(row: Any, now: datetime) -> float:
    return max(0.0, (now - (aware(row.queued_at) or now)).total_seconds())


@dataclass(frozen=True)
class Clock:
    """What every step needs besides the item: the time, the lease and the policy."""

    now: datetime
    lease_seconds: float
    policy: Policy

    @property
    def lease_until(self) -> datetime:
        """When a claim taken now expires without a heartbeat."""
        return self.now + timedelta(seconds=self.lease_seconds)


def assign(
    conn: Connection, row: Any, officer_id: str, clock: Clock, *, actor: str, action: RoutedAction
) -> bool:
    """Give an open item to an officer (a claim on their behalf); False if it is no longer open."""
    if not _change(
        conn,
        row.id,
        items.c.status == "open",
        status="claimed",
        assignee=officer_id,
        claimed_at=clock.now,
        lease_expires_at=clock.lease_until,
        sla_due_at=ack_due(clock.policy, row.queue_id, row.urgency, clock.now),
        breach=None,
        breached_at=None,
        updated_at=clock.now,
    ):
        return False
    after = load(conn, row.id)
    record(
        conn,
        after,
        action,
        actor=actor,
        now=clock.now,
        details={"lease_expires_at": clock.lease_until.isoformat()},
    )
    metrics.TIME_TO_CLAIM.labels(row.urgency).observe(_since_queued(row, clock.now))
    return True


def claim(engine: Engine, *, item_id: int, actor: Principal, clock: Clock) -> dict[str, Any]:
    """Claim an open item; exactly one of several concurrent claimers wins."""
    with engine.begin() as conn:
        row = _actable(conn, actor, item_id)
        if row.status != "open" or not assign(
            conn, row, actor.officer_id, clock, actor=actor.officer_id, action=RoutedAction.CLAIMED
        ):
            raise Conflict(f"item {item_id} is not open (someone else has it, or it is resolved)")
        return dict(load(conn, item_id)._mapping)


def heartbeat(engine: Engine, *, item_id: int, actor: Principal, clock: Clock) -> dict[str, Any]:
    """Extend the caller's claim lease."""
    with engine.begin() as conn:
        _actable(conn, actor, item_id)
        if not _change(
            conn,
            item_id,
            items.c.status == "claimed",
            items.c.assignee == actor.officer_id,
            lease_expires_at=clock.lease_until,
            updated_at=clock.now,
        ):
            raise Conflict(f"item {item_id} is not claimed by you")
        after = load(conn, item_id)
        record(
            conn,
            after,
            RoutedAction.HEARTBEAT,
            actor=actor.officer_id,
            now=clock.now,
            details={"lease_expires_at": clock.lease_until.isoformat()},
        )
        return dict(after._mapping)


def acknowledge(engine: Engine, *, item_id: int, actor: Principal, clock: Clock) -> dict[str, Any]:
    """The caller confirms they are working the item: the lease and the SLA clock stop."""
    with engine.begin() as conn:
        row = _actable(conn, actor, item_id)
        if not _change(
            conn,
            item_id,
            items.c.status == "claimed",
            items.c.assignee == actor.officer_id,
            status="acknowledged",
            acknowledged_at=clock.now,
            lease_expires_at=None,
            sla_due_at=None,
            updated_at=clock.now,
        ):
            raise Conflict(f"item {item_id} is not claimed by you")
        after = load(conn, item_id)
        record(conn, after, RoutedAction.ACKNOWLEDGED, actor=actor.officer_id, now=clock.now)
        metrics.TIME_TO_ACK.labels(row.urgency).observe(_since_queued(row, clock.now))
        return dict(after._mapping)


def _holder_or_supervisor(actor: Principal, row: Any) -> None:
    if row.assignee != actor.officer_id and not actor.is_supervisor:
        raise Conflict(f"item {row.id} is not yours; a supervisor can act on it for its holder")


def reopen_values(clock: Clock, queue_id: str, urgency: str) -> dict[str, Any]:
    """The columns that put an item back in a queue's pool."""
    return {
        "status": "open",
        "assignee": None,
        "claimed_at": None,
        "lease_expires_at": None,
        "acknowledged_at": None,
        "sla_due_at": claim_due(clock.policy, queue_id, urgency, clock.now),
        "updated_at": clock.now,
    }


def release(engine: Engine, *, item_id: int, actor: Principal, clock: Clock) -> dict[str, Any]:
    """Give a claimed item back to the pool."""
    with engine.begin() as conn:
        row = _actable(conn, actor, item_id)
        if row.status not in ACTIVE:
            raise Conflict(f"item {item_id} is {row.status}, not claimed")
        _holder_or_supervisor(actor, row)
        if not _change(
            conn,
            item_id,
            items.c.status == row.status,
            items.c.assignee == row.assignee,
            **reopen_values(clock, row.queue_id, row.urgency),
        ):
            raise Conflict(f"item {item_id} changed meanwhile; try again")
        after = load(conn, item_id)
        record(
            conn,
            after,
            RoutedAction.RELEASED,
            actor=actor.officer_id,
            now=clock.now,
            details={"previous_assignee": row.assignee},
        )
        return dict(after._mapping)


def _is_member(conn: Connection, queue_id: str, officer_id: str) -> bool:
    return (
        conn.scalar(
            select(memberships.c.officer_id).where(
                memberships.c.queue_id == queue_id, memberships.c.officer_id == officer_id
            )
        )
        is not None
    )


def transfer(
    engine: Engine,
    *,
    item_id: int,
    actor: Principal,
    clock: Clock,
    queue_id: str | None,
    officer_id: str | None,
    reason: str | None,
) -> dict[str, Any]:
    """Move an item to another queue (back to its pool) and/or hand it to an officer."""
    with engine.begin() as conn:
        row = _actable(conn, actor, item_id)
        if row.status == "resolved":
            raise Conflict(f"item {item_id} is resolved")
        if row.status in ACTIVE:
            _holder_or_supervisor(actor, row)
        target = queue_id or row.queue_id
        if conn.scalar(select(queues.c.id).where(queues.c.id == target)) is None:
            raise Invalid(f"queue_id: queue {target!r} does not exist", field="body.queue_id")
        # The policy says where an officer may send an item (nothing critical, nothing out
        # of `emergency`); anything else is a supervisor's call.
        if not actor.is_supervisor and not clock.policy.may_transfer(
            row.queue_id, target, Urgency(row.urgency)
        ):
            raise Forbidden(
                f"queue_id: moving {row.urgency} items of {row.queue_id!r} to {target!r} "
                "needs a supervisor",
                field="body.queue_id",
            )
        if officer_id is not None:
            if conn.scalar(select(officers.c.id).where(officers.c.id == officer_id)) is None:
                raise Invalid(
                    f"officer_id: officer {officer_id!r} does not exist", field="body.officer_id"
                )
            if not _is_member(conn, target, officer_id):
                raise Invalid(
                    f"officer_id: officer {officer_id!r} is not a member of queue {target!r}",
                    field="body.officer_id",
                )
            if officer_id != actor.officer_id and not actor.is_supervisor:
                raise Forbidden("officer_id: only supervisors hand items to someone else")
        values = reopen_values(clock, target, row.urgency) | {"queue_id": target}
        if officer_id is not None:
            values |= {
                "status": "claimed",
                "assignee": officer_id,
                "claimed_at": clock.now,
                "lease_expires_at": clock.lease_until,
                "sla_due_at": ack_due(clock.policy, target, row.urgency, clock.now),
            }
        if not _change(conn, item_id, items.c.status == row.status, **values):
            raise Conflict(f"item {item_id} changed meanwhile; try again")
        after = load(conn, item_id)
        record(
            conn,
            after,
            RoutedAction.TRANSFERRED,
            actor=actor.officer_id,
            now=clock.now,
            details={
                "from_queue": row.queue_id,
                "to_queue": target,
                "from_assignee": row.assignee,
                "to_assignee": officer_id,
                "reason": reason,
            },
        )
        return dict(after._mapping)


def resolve(
    engine: Engine,
    *,
    item_id: int,
    actor: Principal,
    clock: Clock,
    disposition: str,
    note: str | None,
) -> dict[str, Any]:
    """Close an item with a disposition (and an optional closing note)."""
    with engine.begin() as conn:
        row = _actable(conn, actor, item_id)
        if row.status == "resolved":
            raise Conflict(f"item {item_id} is resolved already")
        if row.status == "open" and not actor.is_supervisor:
            raise Conflict(f"item {item_id} is open: claim it before resolving it")
        if row.status in ACTIVE:
            _holder_or_supervisor(actor, row)
        if not _change(
            conn,
            item_id,
            items.c.status == row.status,
            status="resolved",
            resolved_at=clock.now,
            disposition=disposition,
            lease_expires_at=None,
            sla_due_at=None,
            updated_at=clock.now,
        ):
            raise Conflict(f"item {item_id} changed meanwhile; try again")
        if note:
            conn.execute(
                insert(notes).values(
                    item_id=item_id, officer_id=actor.officer_id, at=clock.now, text=note
                )
            )
        after = load(conn, item_id)
        record(
            conn,
            after,
            RoutedAction.RESOLVED,
            actor=actor.officer_id,
            now=clock.now,
            details={"disposition": disposition, "note": note},
        )
        metrics.TIME_TO_RESOLVE.labels(row.urgency).observe(_since_queued(row, clock.now))
        return dict(after._mapping)


def add_note(
    engine: Engine, *, item_id: int, actor: Principal, now: datetime, text: str
) -> dict[str, Any]:
    """Attach a note to an item."""
    with engine.begin() as conn:
        row = _actable(conn, actor, item_id)
        result = conn.execute(
            insert(notes).values(item_id=item_id, officer_id=actor.officer_id, at=now, text=text)
        )
        note_id = int(result.inserted_primary_key[0])  # type: ignore[index]
        record(
            conn,
            row,
            RoutedAction.NOTE_ADDED,
            actor=actor.officer_id,
            now=now,
            details={"note_id": note_id},
        )
        return {
            "note_id": note_id,
            "item_id": item_id,
            "officer_id": actor.officer_id,
            "at": now,
            "text": text,
        }


def feedback(
    engine: Engine,
    *,
    item_id: int,
    actor: Principal,
    now: datetime,
    urgency: Urgency | None,
    topics: tuple[str, ...] | None,
    comment: str | None,
) -> MentionFeedback:
    """Record an officer's correction of the classification and queue it for the classifier."""
    with engine.begin() as conn:
        row = _actable(conn, actor, item_id)
        event = MentionFeedback(
            mention_id=row.mention_id,
            item_id=row.id,
            officer_id=actor.officer_id,
            original_urgency=Urgency(row.urgency),
            original_topics=tuple(row.topics),
            urgency=urgency,
            topics=topics,
            comment=comment,
            ruleset_version=row.ruleset_version,
            at=now,
        )
        enqueue(conn, FEEDBACK, row.mention_id, event, now)
        record(
            conn,
            row,
            RoutedAction.FEEDBACK,
            actor=actor.officer_id,
            now=now,
            details={
                "urgency": urgency,
                "topics": list(topics) if topics is not None else None,
                "comment": comment,
            },
        )
        return event


def detail(engine: Engine, *, item_id: int, actor: Principal) -> dict[str, Any]:
    """An item with its watch queues, notes and audit trail, if the caller may read it."""
    with engine.connect() as conn:
        row = _visible(conn, actor, item_id)
        out = dict(row._mapping)
        out["watch_queues"] = sorted(watch_queues(conn, item_id))
        out["notes"] = [
            dict(r._mapping)
            for r in conn.execute(
                select(notes).where(notes.c.item_id == item_id).order_by(notes.c.id)
            )
        ]
        out["audit"] = [
            dict(r._mapping)
            for r in conn.execute(
                select(audit).where(audit.c.item_id == item_id).order_by(audit.c.id)
            )
        ]
        return out


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
