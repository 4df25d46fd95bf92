"""The notifier's tables (`notifier_*`): groups, escalations seen, and every send.

- `notifier_groups`: per group, the urgency and member step it was last paged
  at, and its acknowledgement;
- `notifier_escalations`: every escalation read, once (its event id is the
  key): the wave it opened, or why it paged nobody (suppressed rows);
- `notifier_sends`: one row per message, unique by its dedupe key (group, wave,
  target, channel, step), so a replayed escalation stores no second send.

A send is PENDING until due; the scheduler claims due rows (`FOR UPDATE SKIP
LOCKED` on PostgreSQL, so replicas never claim the same one) and marks them
SENDING in the same transaction, before any request. After a crash a SENDING
row whose lease ran out is sent again only on a channel that dedupes a
repeat (webhook's Idempotency-Key, PagerDuty's dedup_key); on email and SMS it
ends UNKNOWN, never sent twice.

SQLAlchemy Core, on PostgreSQL and on SQLite (`make run`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    Column,
    DateTime,
    Engine,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    func,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from switchboard_notifier.answers import Outcome
from switchboard_notifier.grouping import (
    GroupState,
    PendingSend,
    SuppressReason,
    Wave,
    cancelled_by_ack,
    decide,
    dedupe_key,
    group_key,
)
from switchboard_notifier.policy import ChannelKind, Policy, plan
from switchboard_shared.database import create_tables
from switchboard_shared.events import MentionEscalated, Urgency


class SendState(StrEnum):
    """Where one message stands."""

    PENDING = "pending"
    SENDING = "sending"
    DELIVERED = "delivered"
    FAILED = "failed"
    UNKNOWN = "unknown"  # a try may have been delivered; not sent again (no idempotency)
    CANCELLED = "cancelled"  # acknowledged before it was due


WAVE = "wave"  # the `decision` of an escalation that paged

metadata = MetaData()

groups = Table(
    "notifier_groups",
    metadata,
    Column("group_key", String(64), primary_key=True),
    Column("urgency", String(16), nullable=False),
    Column("member_step", Integer, nullable=False),
    Column("acknowledged_by", String(128), nullable=True),
    Column("acknowledged_at", DateTime(timezone=True), nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

escalations = Table(
    "notifier_escalations",
    metadata,
    Column("event_id", String(64), primary_key=True),
    Column("group_key", String(64), nullable=False, index=True),
    Column("item_id", Integer, nullable=False),
    Column("mention_id", String(64), nullable=False),
    Column("member_count", Integer, nullable=False),
    Column("decision", String(32), nullable=False),  # WAVE or a SuppressReason
    Column("wave", String(32), nullable=True),
    Column("at", DateTime(timezone=True), nullable=False),
)

sends = Table(
    "notifier_sends",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("dedupe_key", String(255), nullable=False, unique=True),
    Column("group_key", String(64), nullable=False),
    Column("wave", String(32), nullable=False),
    Column("target", String(64), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("step", String(16), nullable=False),
    Column("address", String(512), nullable=False),
    Column("event_id", String(64), nullable=False),
    Column("item_id", Integer, nullable=False),
    Column("mention_id", String(64), nullable=False),
    Column("incident_id", Integer, nullable=True),
    Column("queue_id", String(64), nullable=False),
    Column("urgency", String(16), nullable=False),
    Column("tier", Integer, nullable=False),
    Column("member_count", Integer, nullable=False),
    Column("state", String(16), nullable=False),
    Column("due_at", DateTime(timezone=True), nullable=False),
    Column("claimed_until", DateTime(timezone=True), nullable=True),
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_error", String(512), nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("ix_notifier_sends_state_due", "state", "due_at"),
    Index("ix_notifier_sends_group_state", "group_key", "state"),
)


@dataclass(frozen=True)
class Recorded:
    """What storing one escalation did."""

    group: str
    decision: Wave | SuppressReason | None  # None: this event was stored before (a replay)
    scheduled: dict[ChannelKind, int]


@dataclass(frozen=True)
class Claimed:
    """A send the scheduler owns until its lease ends."""

    id: int
    dedupe_key: str
    group_key: str
    target: str
    channel: ChannelKind
    address: str
    item_id: int
    mention_id: str
    incident_id: int | None
    queue_id: str
    urgency: Urgency
    tier: int
    member_count: int
    attempts: int  # this try included
    resumed: bool  # a try of it was in flight when its last owner stopped


def create_schema(engine: Engine) -> None:
    """Create the notifier's tables if missing (the router's migrations never touch them)."""
    create_tables(metadata, engine)


def _insert(engine: Engine) -> Any:
    return (postgresql if engine.dialect.name == "postgresql" else sqlite).insert


def _locking(engine: Engine, query: Any, *, skip_locked: bool = False) -> Any:
    # SQLite has one writer at a time; only PostgreSQL needs (and has) row locks.
    if engine.dialect.name != "postgresql":
        return query
    return query.with_for_update(skip_locked=skip_locked)


def record_escalation(
    engine: Engine, *, event: MentionEscalated, policy: Policy, now: datetime
) -> Recorded:
    """Store one escalation and, if it opens a wave of its group, the sends the policy plans
    for it, in one transaction. A replay (same event id) changes nothing."""
    insert = _insert(engine)
    group = group_key(event)
    with engine.begin() as connection:
        first = connection.execute(
            insert(escalations)
            .values(
                event_id=event.event_id,
                group_key=group,
                item_id=event.item_id,
                mention_id=event.mention_id,
                member_count=event.member_count,
                decision="",
                at=now,
            )
            .on_conflict_do_nothing()
            .returning(escalations.c.event_id)
        )
        # RETURNING, not rowcount: it is the one answer both dialects give alike on a conflict.
        if first.first() is None:
            return Recorded(group, None, {})
        rule = policy.rule_for(event)
        if rule is None:
            _decided(connection, event.event_id, SuppressReason.NO_RULE, None)
            return Recorded(group, SuppressReason.NO_RULE, {})
        connection.execute(
            insert(groups)
            .values(
                group_key=group,
                urgency="",  # "" until its first wave: see _state
                member_step=0,
                updated_at=now,
            )
            .on_conflict_do_nothing()
        )
        row = connection.execute(
            _locking(engine, select(groups).where(groups.c.group_key == group))
        ).one()
        state = GroupState(Urgency(row.urgency), row.member_step) if row.urgency else None
        decision = decide(state, event, policy.grouping.member_steps)
        if isinstance(decision, SuppressReason):
            _decided(connection, event.event_id, decision, None)
            return Recorded(group, decision, {})
        connection.execute(
            update(groups)
            .where(groups.c.group_key == group)
            .values(
                urgency=decision.urgency.value, member_step=decision.member_step, updated_at=now
            )
        )
        _decided(connection, event.event_id, WAVE, decision.label)
        scheduled: dict[ChannelKind, int] = {}
        for planned in plan(policy, rule):
            key = dedupe_key(group, decision, planned.target, planned.channel, planned.step)
            stored = connection.execute(
                insert(sends)
                .values(
                    dedupe_key=key,
                    group_key=group,
                    wave=decision.label,
                    target=planned.target,
                    channel=planned.channel.value,
                    step=planned.step,
                    address=planned.address,
                    event_id=event.event_id,
                    item_id=event.item_id,
                    mention_id=event.mention_id,
                    incident_id=event.incident_id,
                    queue_id=event.queue_id,
                    urgency=decision.urgency.value,
                    tier=event.tier,
                    member_count=event.member_count,
                    state=SendState.PENDING.value,
                    due_at=event.at.astimezone(UTC) + timedelta(seconds=planned.after_seconds),
                    attempts=0,
                    updated_at=now,
                )
                .on_conflict_do_nothing(index_elements=["dedupe_key"])
                .returning(sends.c.id)
            )
            if stored.first() is not None:
                scheduled[planned.channel] = scheduled.get(planned.channel, 0) + 1
        return Recorded(group, decision, scheduled)


def _decided(connection: Connection, event_id: str, decision: str, wave: str | None) -> None:
    connection.execute(
        update(escalations)
        .where(escalations.c.event_id == event_id)
        .values(decision=decision, wave=wave)
    )


def claim_due(
    engine: Engine, *, now: datetime, limit: int, lease_seconds: float
) -> tuple[list[Claimed], list[Claimed]]:
    """Claim up to `limit` due sends for `lease_seconds`: (to send, ended unknown).

    Due: PENDING at or past its time, or SENDING whose owner's lease ran out (it
    stopped mid-try). Those on a channel without idempotency end UNKNOWN here.
    """
    lease_until = now + timedelta(seconds=lease_seconds)
    due = ((sends.c.state == SendState.PENDING.value) & (sends.c.due_at <= now)) | (
        (sends.c.state == SendState.SENDING.value) & (sends.c.claimed_until < now)
    )
    query = select(sends).where(due).order_by(sends.c.due_at, sends.c.id).limit(limit)
    to_send: list[Claimed] = []
    unknown: list[Claimed] = []
    with engine.begin() as connection:
        for row in connection.execute(_locking(engine, query, skip_locked=True)).all():
            resumed = row.state == SendState.SENDING.value
            channel = ChannelKind(row.channel)
            if resumed and not channel.deduplicates:
                connection.execute(
                    update(sends)
                    .where(sends.c.id == row.id)
                    .values(
                        state=SendState.UNKNOWN.value,
                        claimed_until=None,
                        last_error="a try was in flight when the notifier stopped; "
                        f"{channel.value} has no idempotency key, so it is not sent again",
                        updated_at=now,
                    )
                )
                unknown.append(_claimed(row, resumed=True, attempts=row.attempts))
                continue
            connection.execute(
                update(sends)
                .where(sends.c.id == row.id)
                .values(
                    state=SendState.SENDING.value,
                    claimed_until=lease_until,
                    attempts=row.attempts + 1,
                    updated_at=now,
                )
            )
            to_send.append(_claimed(row, resumed=resumed, attempts=row.attempts + 1))
    return to_send, unknown


def _claimed(row: Any, *, resumed: bool, attempts: int) -> Claimed:
    return Claimed(
        id=row.id,
        dedupe_key=row.dedupe_key,
        group_key=row.group_key,
        target=row.target,
        channel=ChannelKind(row.channel),
        address=row.address,
        item_id=row.item_id,
        mention_id=row.mention_id,
        incident_id=row.incident_id,
        queue_id=row.queue_id,
        urgency=Urgency(row.urgency),
        tier=row.tier,
        member_count=row.member_count,
        attempts=attempts,
        resumed=resumed,
    )


_FINAL_STATE = {
    Outcome.DELIVERED: SendState.DELIVERED,
    Outcome.FAILED: SendState.FAILED,
    Outcome.UNKNOWN: SendState.UNKNOWN,
}


def finish(
    engine: Engine,
    *,
    send_id: int,
    outcome: Outcome,
    now: datetime,
    retry_at: datetime | None = None,
    error: str | None = None,
) -> None:
    """Store how a claimed try ended: a final state, or PENDING again at `retry_at`."""
    if outcome is Outcome.RETRY:
        assert retry_at is not None
        values: dict[str, Any] = {"state": SendState.PENDING.value, "due_at": retry_at}
    else:
        values = {"state": _FINAL_STATE[outcome].value}
    with engine.begin() as connection:
        connection.execute(
            update(sends)
            .where((sends.c.id == send_id) & (sends.c.state == SendState.SENDING.value))
            .values(**values, claimed_until=None, last_error=error, updated_at=now)
        )


def acknowledge(engine: Engine, *, group: str, by: str, at: datetime) -> int:
    """Record that `by` acknowledged `group` and cancel its pending sends, in one transaction;
    the number cancelled. A send already going out is not stopped."""
    at = at.astimezone(UTC)
    with engine.begin() as connection:
        connection.execute(
            update(groups)
            .where(groups.c.group_key == group)
            .values(acknowledged_by=by, acknowledged_at=at, updated_at=at)
        )
        rows = connection.execute(
            _locking(
                engine,
                select(sends.c.dedupe_key, sends.c.group_key, sends.c.due_at).where(
                    (sends.c.group_key == group) & (sends.c.state == SendState.PENDING.value)
                ),
            )
        ).all()
        pending = [PendingSend(row.dedupe_key, row.group_key, row.due_at) for row in rows]
        keys = cancelled_by_ack(pending, group)
        if not keys:
            return 0
        result = connection.execute(
            update(sends)
            .where(sends.c.dedupe_key.in_(keys) & (sends.c.state == SendState.PENDING.value))
            .values(state=SendState.CANCELLED.value, updated_at=at)
        )
        return int(result.rowcount)


def known_group(engine: Engine, group: str) -> bool:
    """Whether any escalation of `group` was ever stored (one that was, can be acknowledged)."""
    with engine.connect() as connection:
        found = connection.execute(select(groups.c.group_key).where(groups.c.group_key == group))
        return found.first() is not None


def counts_by_state(engine: Engine) -> dict[SendState, int]:
    """How many sends are in each state (for the pending gauge and the tests)."""
    with engine.connect() as connection:
        rows = connection.execute(select(sends.c.state, func.count()).group_by(sends.c.state)).all()
    return {SendState(state): count for state, count in rows}


def suppressed_count(engine: Engine, *, group: str | None = None) -> int:
    """How many stored escalations paged nobody (of `group`, or of all)."""
    query = select(func.count()).select_from(escalations).where(escalations.c.decision != WAVE)
    if group is not None:
        query = query.where(escalations.c.group_key == group)
    with engine.connect() as connection:
        return int(connection.execute(query).scalar_one())
