"""The steps officers take on items — claim, heartbeat, acknowledge, release,
transfer, resolve, notes and feedback — and the reads of items the API serves.

Keyword-only functions over an engine (sync: FastAPI runs them in a thread).
Each step is one transaction built from `steps.py`: change the item
conditionally, then `record` its audit row and outbox event.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, func, insert, or_, select, tuple_

from switchboard_router import metrics
from switchboard_router.db.tables import audit, items, notes, officers, queues, watches
from switchboard_router.items.status import HELD, ItemStatus
from switchboard_router.items.steps import (
    Conflict,
    Forbidden,
    Invalid,
    StepContext,
    actable,
    assign,
    change,
    enqueue,
    holder_or_supervisor,
    load,
    record,
    reopen_values,
    since_queued,
    visible,
    watch_queues,
    written_at,
)
from switchboard_router.people.security import Principal
from switchboard_router.queues.service import is_member
from switchboard_shared.events import Disposition, MentionFeedback, RoutedAction, Urgency
from switchboard_shared.topics import FEEDBACK


def _step(
    conn: Connection,
    item_id: int,
    action: RoutedAction,
    *,
    actor: Principal,
    now: datetime,
    where: tuple[Any, ...],
    values: dict[str, Any],
    refused: str,
    details: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Change the item if `where` still holds (else Conflict: `refused`) and record the
    step; the item after it."""
    if not change(conn, item_id, *where, **values):
        raise Conflict(refused)
    after = load(conn, item_id)
    record(conn, after, action, actor=actor.officer_id, now=now, details=details)
    return dict(after._mapping)


def _on_own_claim(
    conn: Connection,
    item_id: int,
    action: RoutedAction,
    *,
    actor: Principal,
    context: StepContext,
    values: dict[str, Any],
    details: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A step only the claim's holder takes, while the item is still claimed by them."""
    return _step(
        conn,
        item_id,
        action,
        actor=actor,
        now=context.now,
        where=(items.c.status == ItemStatus.CLAIMED, items.c.assignee == actor.officer_id),
        values=values,
        refused=f"item {item_id} is not claimed by you",
        details=details,
    )


def _clocks_stopped(status: ItemStatus, now: datetime, **values: Any) -> dict[str, Any]:
    """The columns of an item whose lease and SLA clock stop (acknowledged, resolved)."""
    return {
        "status": status,
        **values,
        "lease_expires_at": None,
        "sla_due_at": None,
        "updated_at": now,
    }


def claim(
    engine: Engine, *, item_id: int, actor: Principal, context: StepContext
) -> dict[str, Any]:
    """Claim an open item; exactly one of several concurrent claimers wins."""
    with engine.begin() as conn:
        row = actable(conn, actor, item_id)
        if row.status != ItemStatus.OPEN or not assign(
            conn,
            row,
            actor.officer_id,
            context,
            actor=actor.officer_id,
            action=RoutedAction.CLAIMED,
        ):
            raise Conflict(f"item {item_id} is not open (someone else has it, or it is resolved)")
        return dict(load(conn, item_id)._mapping)


def heartbeat(
    engine: Engine, *, item_id: int, actor: Principal, context: StepContext
) -> dict[str, Any]:
    """Extend the caller's claim lease."""
    with engine.begin() as conn:
        actable(conn, actor, item_id)
        return _on_own_claim(
            conn,
            item_id,
            RoutedAction.HEARTBEAT,
            actor=actor,
            context=context,
            values={"lease_expires_at": context.lease_until, "updated_at": context.now},
            details={"lease_expires_at": context.lease_until.isoformat()},
        )


def acknowledge(
    engine: Engine, *, item_id: int, actor: Principal, context: StepContext
) -> dict[str, Any]:
    """The caller confirms they are working the item: the lease and the SLA clock stop."""
    with engine.begin() as conn:
        row = actable(conn, actor, item_id)
        item = _on_own_claim(
            conn,
            item_id,
            RoutedAction.ACKNOWLEDGED,
            actor=actor,
            context=context,
            values=_clocks_stopped(
                ItemStatus.ACKNOWLEDGED, context.now, acknowledged_at=context.now
            ),
        )
        metrics.TIME_TO_ACK.labels(row.urgency).observe(since_queued(row, context.now))
        return item


def release(
    engine: Engine, *, item_id: int, actor: Principal, context: StepContext
) -> dict[str, Any]:
    """Give a claimed item back to the pool."""
    with engine.begin() as conn:
        row = actable(conn, actor, item_id)
        if row.status not in HELD:
            raise Conflict(f"item {item_id} is {row.status}, not claimed")
        holder_or_supervisor(actor, row)
        return _unchanged_since_read(
            conn,
            row,
            RoutedAction.RELEASED,
            actor=actor,
            context=context,
            values=reopen_values(context, row.queue_id, row.urgency),
            details={"previous_assignee": row.assignee},
            where=(items.c.assignee == row.assignee,),
        )


def _unresolved(conn: Connection, actor: Principal, item_id: int, refusal: str) -> Any:
    """The item the caller may work on, unless it is resolved (Conflict: `refusal`)."""
    row = actable(conn, actor, item_id)
    if row.status == ItemStatus.RESOLVED:
        raise Conflict(refusal)
    return row


def _unchanged_since_read(
    conn: Connection,
    row: Any,
    action: RoutedAction,
    *,
    actor: Principal,
    context: StepContext,
    values: dict[str, Any],
    details: dict[str, Any],
    where: tuple[Any, ...] = (),
) -> dict[str, Any]:
    """A step decided on the item as `row` read it: refused if its status (and `where`)
    changed meanwhile."""
    return _step(
        conn,
        row.id,
        action,
        actor=actor,
        now=context.now,
        where=(items.c.status == row.status, *where),
        values=values,
        refused=f"item {row.id} changed meanwhile; try again",
        details=details,
    )


def transfer(
    engine: Engine,
    *,
    item_id: int,
    actor: Principal,
    context: StepContext,
    queue_id: str | None,
    officer_id: str | None,
    reason: str | None,
) -> dict[str, Any]:
    """Move an item to another queue (back to its pool) and/or hand it to an officer."""
    with engine.begin() as conn:
        row = _unresolved(conn, actor, item_id, f"item {item_id} is resolved")
        if row.status in HELD:
            holder_or_supervisor(actor, row)
        target = queue_id or row.queue_id
        if conn.scalar(select(queues.c.id).where(queues.c.id == target)) is None:
            raise Invalid(f"queue_id: queue {target!r} does not exist", field="body.queue_id")
        # The policy says where an officer may send an item (nothing critical, nothing out
        # of `emergency`); anything else is a supervisor's call.
        if not actor.is_supervisor and not context.policy.may_transfer(
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
            if not is_member(conn, target, officer_id):
                raise Invalid(
                    f"officer_id: officer {officer_id!r} is not a member of queue {target!r}",
                    field="body.officer_id",
                )
            if officer_id != actor.officer_id and not actor.is_supervisor:
                raise Forbidden("officer_id: only supervisors hand items to someone else")
        values = reopen_values(context, target, row.urgency) | {"queue_id": target}
        if officer_id is not None:
            values |= {
                "status": ItemStatus.CLAIMED,
                "assignee": officer_id,
                "claimed_at": context.now,
                "lease_expires_at": context.lease_until,
                "sla_due_at": context.policy.ack_due(target, Urgency(row.urgency), context.now),
            }
        return _unchanged_since_read(
            conn,
            row,
            RoutedAction.TRANSFERRED,
            actor=actor,
            context=context,
            values=values,
            details={
                "from_queue": row.queue_id,
                "to_queue": target,
                "from_assignee": row.assignee,
                "to_assignee": officer_id,
                "reason": reason,
            },
        )


def resolve(
    engine: Engine,
    *,
    item_id: int,
    actor: Principal,
    context: StepContext,
    disposition: Disposition,
    note: str | None,
) -> dict[str, Any]:
    """Close an item with a disposition (and an optional closing note)."""
    with engine.begin() as conn:
        row = _unresolved(conn, actor, item_id, f"item {item_id} is resolved already")
        if row.status == ItemStatus.OPEN and not actor.is_supervisor:
            raise Conflict(f"item {item_id} is open: claim it before resolving it")
        if row.status in HELD:
            holder_or_supervisor(actor, row)
        item = _unchanged_since_read(
            conn,
            row,
            RoutedAction.RESOLVED,
            actor=actor,
            context=context,
            values=_clocks_stopped(
                ItemStatus.RESOLVED, context.now, resolved_at=context.now, disposition=disposition
            ),
            details={"disposition": disposition, "note": note},
        )
        if note:
            conn.execute(
                insert(notes).values(
                    item_id=item_id, officer_id=actor.officer_id, at=context.now, text=note
                )
            )
        metrics.TIME_TO_RESOLVE.labels(row.urgency).observe(since_queued(row, context.now))
        written = written_at(row.mention)
        if written is not None:
            metrics.RESOLVED_AFTER_POST.labels(row.queue_id, row.urgency, row.source).observe(
                max(0.0, (context.now - written).total_seconds())
            )
        return item


def add_note(
    engine: Engine, *, item_id: int, actor: Principal, now: datetime, text: str
) -> dict[str, Any]:
    """Attach a note to an item."""
    with engine.begin() as conn:
        row = actable(conn, actor, item_id)
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
        row = actable(conn, actor, item_id)
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
        row = visible(conn, actor, item_id)
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
