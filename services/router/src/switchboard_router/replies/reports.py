"""How fast citizens are answered: per queue, urgency and source, the answerable and
answered mentions and the first-response and resolve times, and the answered share per
queue behind the gauge."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, func, select

from switchboard_router.db.engine import aware
from switchboard_router.db.tables import items, replies
from switchboard_router.items.steps import (
    Invalid,
    visible_item_filter,
    written_at,
)
from switchboard_router.people.security import Principal
from switchboard_router.replies.policy import (
    ReplyPolicy,
)
from switchboard_shared.events import (
    Disposition,
    ReplyStatus,
    Source,
    Urgency,
)

# Items that need no answer: spam and chatter the classifier marked irrelevant,
# and duplicates of a mention answered elsewhere.
_NOT_ANSWERABLE_DISPOSITIONS = frozenset({Disposition.DUPLICATE.value})
ANSWERED_WINDOW = timedelta(hours=24)
REPORT_ROW_LIMIT = 200_000


def _percentile(values: Sequence[float], share: float) -> float | None:
    """The nearest-rank percentile (None without values)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(share * len(ordered)))
    return round(ordered[rank - 1], 3)


def _answerable(row: Any, policy: ReplyPolicy) -> bool:
    if row.first_sent_at is not None:
        return True  # whatever the classifier thought of it, someone judged it worth an answer
    try:
        source = Source(row.source)
    except ValueError:
        return False
    topics = row.topics or []
    return (
        source in policy.limits
        and row.disposition not in _NOT_ANSWERABLE_DISPOSITIONS
        and topics != ["irrelevant"]
    )


def _timed_items(
    conn: Connection,
    *,
    actor: Principal | None,
    since: datetime,
    until: datetime,
    queue_id: str | None = None,
    urgency: Urgency | None = None,
    source: str | None = None,
) -> list[Any]:
    """Items received in [since, until) with when they were written and first answered."""
    first_sent = (
        select(replies.c.item_id, func.min(replies.c.sent_at).label("first_sent_at"))
        .where(replies.c.status == ReplyStatus.SENT)
        .group_by(replies.c.item_id)
        .subquery()
    )
    query = (
        select(
            items.c.id,
            items.c.queue_id,
            items.c.urgency,
            items.c.source,
            items.c.topics,
            items.c.disposition,
            items.c.resolved_at,
            items.c.mention["created_at"].as_string().label("written_at"),
            first_sent.c.first_sent_at,
        )
        .outerjoin(first_sent, first_sent.c.item_id == items.c.id)
        .where(items.c.received_at >= since, items.c.received_at < until)
    )
    if actor is not None:
        query = query.where(visible_item_filter(actor))
    if queue_id is not None:
        query = query.where(items.c.queue_id == queue_id)
    if urgency is not None:
        query = query.where(items.c.urgency == urgency.value)
    if source is not None:
        query = query.where(items.c.source == source)
    rows = list(conn.execute(query.limit(REPORT_ROW_LIMIT + 1)).all())
    if len(rows) > REPORT_ROW_LIMIT:
        raise Invalid(
            f"query.from: more than {REPORT_ROW_LIMIT} mentions in the range; narrow it",
            field="query.from",
        )
    return rows


def response_times(
    engine: Engine,
    *,
    actor: Principal,
    policy: ReplyPolicy,
    since: datetime,
    until: datetime,
    queue_id: str | None,
    urgency: Urgency | None,
    source: str | None,
) -> list[dict[str, Any]]:
    """Per queue x urgency x source: answerable and answered mentions, first-response and
    resolve times (from when the citizen wrote) as count, p50 and p90."""
    with engine.begin() as conn:
        rows = _timed_items(
            conn,
            actor=actor,
            since=since,
            until=until,
            queue_id=queue_id,
            urgency=urgency,
            source=source,
        )
    groups: dict[tuple[str, str, str], dict[str, Any]] = {}
    for row in rows:
        key = (row.queue_id, row.urgency, row.source)
        group = groups.setdefault(key, {"answerable": 0, "answered": 0, "first": [], "resolve": []})
        written = written_at(row.written_at)
        if _answerable(row, policy):
            group["answerable"] += 1
            if row.first_sent_at is not None:
                group["answered"] += 1
        first, resolved = aware(row.first_sent_at), aware(row.resolved_at)
        if written is not None and first is not None:
            group["first"].append(max(0.0, (first - written).total_seconds()))
        if written is not None and resolved is not None:
            group["resolve"].append(max(0.0, (resolved - written).total_seconds()))
    out = []
    for (queue, urgency_value, source_value), g in sorted(groups.items()):
        out.append(
            {
                "queue": queue,
                "urgency": urgency_value,
                "source": source_value,
                "answerable": g["answerable"],
                "answered": g["answered"],
                "answered_share": round(g["answered"] / g["answerable"], 4)
                if g["answerable"]
                else None,
                "first_response": _times(g["first"]),
                "resolve": _times(g["resolve"]),
            }
        )
    return out


def _times(values: list[float]) -> dict[str, Any]:
    return {
        "count": len(values),
        "p50_seconds": _percentile(values, 0.5),
        "p90_seconds": _percentile(values, 0.9),
    }


def answered_shares(
    engine: Engine, *, policy: ReplyPolicy, now: datetime
) -> dict[str, tuple[int, int]]:
    """Per queue, over the last 24 hours: (answerable mentions, answered ones)."""
    with engine.begin() as conn:
        rows = _timed_items(conn, actor=None, since=now - ANSWERED_WINDOW, until=now)
    shares: dict[str, tuple[int, int]] = {}
    for row in rows:
        if not _answerable(row, policy):
            continue
        answerable, answered = shares.get(row.queue_id, (0, 0))
        shares[row.queue_id] = (answerable + 1, answered + (row.first_sent_at is not None))
    return shares
