"""`GET /v1/stream`: server-sent events of item changes the caller may see.

Fed from the database's audit trail, not from Kafka: every work step,
whichever replica did it (and the clock's expiries and escalations), is an
audit row, so polling `audit.id > last seen` on any replica sees all of them
in commit order, needs no consumer group per connection, and resumes exactly
from the standard `Last-Event-ID` header after a reconnect. Rows are
filtered by the caller's memberships (the item's queue after the step, or a
watch queue of the item) in the query itself, so another queue's item never
reaches the wire. A row is sent only while its item is *still* in (or
copied to) one of the caller's queues as well: each event carries the
item's current state, which must not leak once the item has moved to a
queue the caller cannot see.

The caller is authenticated again before every poll (the token, the role,
the memberships): a revoked token ends the stream, a removed membership
stops that queue's events at once. A `Last-Event-ID` further back than
`replay_max` audit rows before the newest is moved forward to that point, so
`Last-Event-ID: 0` cannot replay the whole history.

Audit ids come from a sequence and two transactions may commit out of id
order, so the poll looks back over the last `SETTLE_SECONDS` of rows it has
already passed and sends only ids it has not sent yet: a row that commits
late with a lower id is still delivered.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, func, select

from switchboard_router.db.engine import aware
from switchboard_router.db.tables import audit, items
from switchboard_router.items.steps import visible_item_filter, visible_queue_filter
from switchboard_router.people.security import Principal

KEEPALIVE_SECONDS = 15.0
SETTLE_SECONDS = 5.0
PAGE = 200


def latest_id(engine: Engine) -> int:
    """The newest audit id (where a fresh stream starts)."""
    with engine.connect() as conn:
        return int(conn.scalar(select(func.max(audit.c.id))) or 0)


def changes_after(engine: Engine, *, actor: Principal, after: int) -> list[dict[str, Any]]:
    """Audit rows after `after` that `actor` may see, with the item's current state."""
    query = (
        select(
            audit.c.id,
            audit.c.item_id,
            audit.c.queue_id,
            audit.c.at,
            audit.c.actor,
            audit.c.action,
            audit.c.details,
            items.c.mention_id,
            items.c.status,
            items.c.assignee,
            items.c.urgency,
            items.c.priority_rank,
        )
        .select_from(audit.join(items, items.c.id == audit.c.item_id))
        .where(audit.c.id > after, visible_queue_filter(actor), visible_item_filter(actor))
        .order_by(audit.c.id)
        .limit(PAGE)
    )
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    out = []
    for r in rows:
        data = dict(r._mapping)
        at = aware(r.at)
        data["at"] = at.isoformat() if at else None
        data["_at"] = at
        out.append(data)
    return out


def format_event(change: dict[str, Any]) -> str:
    """One SSE frame."""
    data = {k: v for k, v in change.items() if not k.startswith("_")}
    return (
        f"id: {change['id']}\nevent: {change['action']}\ndata: {json.dumps(data, default=str)}\n\n"
    )


async def events(
    engine: Engine,
    *,
    actor: Principal,
    reauthenticate: Callable[[], Awaitable[Principal | None]],
    last_event_id: int | None,
    replay_max: int,
    poll_seconds: float,
    disconnected: Callable[[], Awaitable[bool]],
) -> AsyncIterator[str]:
    """The SSE body: a retry hint, then changes as they commit, with keep-alives.

    Ends when the client goes or `reauthenticate` no longer finds the caller.
    """
    newest = await asyncio.to_thread(latest_id, engine)
    after = newest if last_event_id is None else max(last_event_id, newest - replay_max)
    yield f"retry: 2000\n: stream open at {after}\n\n"
    quiet_since = time.monotonic()
    sent: set[int] = set()
    while not await disconnected():
        current = await reauthenticate()
        if current is None:
            # The client reconnects and is answered 401; the console signs out.
            yield ": token no longer valid; stream closed\n\n"
            return
        actor = current
        changes = await asyncio.to_thread(changes_after, engine, actor=actor, after=after)
        fresh = [c for c in changes if c["id"] not in sent]
        for change in fresh:
            sent.add(change["id"])
            yield format_event(change)
        settled = datetime.now(UTC) - timedelta(seconds=SETTLE_SECONDS)
        for change in changes:
            if change["_at"] is not None and change["_at"] < settled:
                after = max(after, change["id"])
        sent = {i for i in sent if i > after}
        if len(changes) == PAGE and not fresh:
            after = max(after, changes[-1]["id"])  # a full page already sent: move on
        if fresh:
            quiet_since = time.monotonic()
            continue
        if time.monotonic() - quiet_since > KEEPALIVE_SECONDS:
            quiet_since = time.monotonic()
            yield ": keep-alive\n\n"
        await asyncio.sleep(poll_seconds)
