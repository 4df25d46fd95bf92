"""What the scheduler does to items: expired leases, SLA breaches, escalation
ladders and automatic assignment, from database state alone.

Nothing is kept in memory between ticks, so a restarted router (or another
replica) carries on exactly where the last tick stopped: a breach that fell
due while the router was down is found on the first tick after start-up.

Several replicas may tick at once. On PostgreSQL each step runs in a
transaction holding `pg_try_advisory_xact_lock`, so one replica does a step
at a time and the others skip it; and every change is a conditional UPDATE
(`... WHERE escalation_tier = <tier before>`, `... WHERE status = 'claimed'
AND lease_expires_at <= now`) so even two runs of the same step cannot
escalate an item twice or expire a fresh claim.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, Engine, Select, func, select, text, update

from switchboard_router import metrics
from switchboard_router.db.engine import aware, insert_ignore
from switchboard_router.db.tables import items, memberships, officers, queues
from switchboard_router.incidents.store import incident_of
from switchboard_router.items.status import HELD, ON_THE_CLOCK, ItemStatus
from switchboard_router.items.steps import (
    ROUTER_ACTOR,
    StepContext,
    assign,
    change,
    enqueue,
    load,
    record,
    reopen_values,
)
from switchboard_router.people.security import Role
from switchboard_router.queues.service import settings_of
from switchboard_router.routing.assignment import AssignmentMode, Candidate, choose
from switchboard_router.routing.rules import MAX_BOOST
from switchboard_router.routing.sla import SUPERVISOR, due_tiers
from switchboard_shared.events import MentionEscalated, RoutedAction, Urgency
from switchboard_shared.logs import fields
from switchboard_shared.topics import ESCALATED

log = logging.getLogger(__name__)

_LOCK_KEY = 0x5B_0C10C  # one advisory lock for the router's context steps
BATCH = 500


def locked(conn: Connection) -> bool:
    if conn.dialect.name != "postgresql":
        return True
    return bool(conn.scalar(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": _LOCK_KEY}))


def _sweep(engine: Engine, due: Select[Any], step: Callable[[Connection, Any], int]) -> int:
    """Run `step` on a batch of the items `due` selects, in one transaction under the
    advisory lock; how many changes the steps made (nothing if another replica holds it)."""
    with engine.begin() as conn:
        if not locked(conn):
            return 0
        return sum(step(conn, row) for row in conn.execute(due.limit(BATCH)).all())


def _record(
    conn: Connection, item_id: int, action: RoutedAction, context: StepContext, **details: Any
) -> None:
    """Record a step the router took by the clock, on the item as it is now."""
    record(conn, load(conn, item_id), action, actor=ROUTER_ACTOR, now=context.now, details=details)


def expire_leases(engine: Engine, context: StepContext) -> int:
    """Return claimed items whose lease ran out to their queue's pool."""

    def expire(conn: Connection, row: Any) -> int:
        if not change(
            conn,
            row.id,
            items.c.status == ItemStatus.CLAIMED,
            items.c.assignee == row.assignee,
            items.c.lease_expires_at <= context.now,
            **reopen_values(context, row.queue_id, row.urgency),
        ):
            return 0
        _record(conn, row.id, RoutedAction.LEASE_EXPIRED, context, previous_assignee=row.assignee)
        metrics.EXPIRED_CLAIMS.labels(row.queue_id).inc()
        log.info(
            "claim lease expired",
            extra=fields(mention_id=row.mention_id, item_id=row.id, officer=row.assignee),
        )
        return 1

    due = (
        select(items)
        .where(items.c.status == ItemStatus.CLAIMED, items.c.lease_expires_at <= context.now)
        .order_by(items.c.lease_expires_at)
    )
    return _sweep(engine, due, expire)


def detect_breaches(engine: Engine, context: StepContext) -> int:
    """Mark items whose claim or acknowledge deadline passed."""

    def breach(conn: Connection, row: Any) -> int:
        kind = "claim" if row.status == ItemStatus.OPEN else "ack"
        if not change(
            conn,
            row.id,
            items.c.breached_at.is_(None),
            items.c.status == row.status,
            breached_at=context.now,
            breach=kind,
            updated_at=context.now,
        ):
            return 0
        _record(
            conn,
            row.id,
            RoutedAction.SLA_BREACHED,
            context,
            breach=kind,
            due_at=aware(row.sla_due_at),
        )
        metrics.SLA_BREACHES.labels(row.queue_id, kind).inc()
        log.warning(
            "SLA breached",
            extra=fields(
                mention_id=row.mention_id, item_id=row.id, queue=row.queue_id, breach=kind
            ),
        )
        return 1

    due = select(items).where(
        items.c.sla_due_at <= context.now,
        items.c.breached_at.is_(None),
        items.c.status.in_(ON_THE_CLOCK),
    )
    return _sweep(engine, due, breach)


def climb_ladders(engine: Engine, context: StepContext) -> int:
    """Fire the escalation tiers that fell due for breached items."""

    def climb(conn: Connection, row: Any) -> int:
        sla = context.policy.sla_for(row.queue_id, Urgency(row.urgency))
        if sla is None:
            return 0
        fired = 0
        breached_at = aware(row.breached_at)
        assert breached_at is not None
        for number, tier in due_tiers(
            sla, breached_at=breached_at, tiers_done=row.escalation_tier, now=context.now
        ):
            current = load(conn, row.id)
            values: dict[str, Any] = {"escalation_tier": number, "updated_at": context.now}
            if tier.raise_priority:
                values["priority_rank"] = max(
                    current.priority_rank - tier.raise_priority, -MAX_BOOST
                )
            target = None
            if tier.move_to:
                target = (
                    settings_of(conn, context.policy, current.queue_id).supervisor_queue
                    if tier.move_to == SUPERVISOR
                    else tier.move_to
                )
                if target and target != current.queue_id:
                    conn.execute(
                        insert_ignore(conn, queues).on_conflict_do_nothing(index_elements=["id"]),
                        [{"id": target, "created_at": context.now}],
                    )
                    values |= reopen_values(context, target, current.urgency) | {"queue_id": target}
                    values.pop("sla_due_at")  # still in breach: the ladder goes on
                else:
                    target = None
            if not change(conn, row.id, items.c.escalation_tier == number - 1, **values):
                return fired  # another replica climbed this rung
            after = load(conn, row.id)
            details = {
                "tier": number,
                "sla": sla.name,
                "breach": row.breach,
                "actions": list(tier.actions),
                "notify": tier.notify,
                "from_queue": current.queue_id,
                "to_queue": target,
                "priority_rank": after.priority_rank,
            }
            record(
                conn,
                after,
                RoutedAction.ESCALATED,
                actor=ROUTER_ACTOR,
                now=context.now,
                details=details,
            )
            if tier.escalate:
                # The notifier pages once per incident, and again as it grows.
                incident = incident_of(conn, row.id)
                enqueue(
                    conn,
                    ESCALATED,
                    row.mention_id,
                    MentionEscalated(
                        mention_id=row.mention_id,
                        item_id=row.id,
                        queue_id=after.queue_id,
                        urgency=Urgency(row.urgency),
                        tier=number,
                        breach="ack" if row.breach == "ack" else "claim",
                        breached_at=breached_at,
                        actions=tier.actions,
                        notify=tier.notify,
                        at=context.now,
                        incident_id=incident[0] if incident else None,
                        member_count=max(1, incident[1]) if incident else 1,
                    ),
                    context.now,
                )
            metrics.ESCALATIONS.labels(current.queue_id, str(number)).inc()
            log.warning(
                "item escalated",
                extra=fields(
                    mention_id=row.mention_id, item_id=row.id, tier=number, to_queue=target
                ),
            )
            fired += 1
        return fired

    due = select(items).where(items.c.breached_at.is_not(None), items.c.status.in_(ON_THE_CLOCK))
    return _sweep(engine, due, climb)


def assign_backlog(engine: Engine, context: StepContext) -> int:
    """Hand open items of round-robin and least-loaded queues to on-duty members with room."""
    given = 0
    with engine.begin() as conn:
        if not locked(conn):
            return 0
        queue_ids = conn.scalars(
            select(items.c.queue_id).where(items.c.status == ItemStatus.OPEN).distinct()
        ).all()
        for queue_id in queue_ids:
            mode = settings_of(conn, context.policy, queue_id).assignment
            if mode is AssignmentMode.OPEN:
                continue
            load_by = (
                select(items.c.assignee, func.count().label("n"))
                .where(items.c.status.in_(HELD))
                .group_by(items.c.assignee)
                .subquery()
            )
            members = conn.execute(
                select(
                    officers.c.id, officers.c.capacity, memberships.c.last_assigned_at, load_by.c.n
                )
                .select_from(
                    memberships.join(officers, officers.c.id == memberships.c.officer_id).outerjoin(
                        load_by, load_by.c.assignee == officers.c.id
                    )
                )
                .where(
                    memberships.c.queue_id == queue_id,
                    officers.c.on_duty.is_(True),
                    officers.c.role.in_((Role.OFFICER, Role.SUPERVISOR)),
                )
            ).all()
            candidates = {
                m.id: Candidate(m.id, m.n or 0, m.capacity, aware(m.last_assigned_at))
                for m in members
            }
            if not candidates:
                continue
            backlog = conn.execute(
                select(items)
                .where(items.c.queue_id == queue_id, items.c.status == ItemStatus.OPEN)
                .order_by(items.c.priority_rank, items.c.received_at, items.c.id)
                .limit(BATCH)
            ).all()
            for row in backlog:
                chosen = choose(mode, list(candidates.values()))
                if chosen is None:
                    break
                if not assign(
                    conn,
                    row,
                    chosen.officer_id,
                    context,
                    actor=ROUTER_ACTOR,
                    action=RoutedAction.ASSIGNED,
                ):
                    continue
                conn.execute(
                    update(memberships)
                    .where(
                        memberships.c.queue_id == queue_id,
                        memberships.c.officer_id == chosen.officer_id,
                    )
                    .values(last_assigned_at=context.now)
                )
                candidates[chosen.officer_id] = Candidate(
                    chosen.officer_id, chosen.load + 1, chosen.capacity, context.now
                )
                given += 1
    return given
