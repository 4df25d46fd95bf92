"""Threads: our own sent posts coming back through a connector (echoes, dropped) and
citizens' answers to them, which join the item's thread and reopen a resolved item."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, select

from switchboard_router import metrics
from switchboard_router.db.engine import aware, insert_ignore
from switchboard_router.db.tables import answers, items, replies
from switchboard_router.items.status import ItemStatus
from switchboard_router.items.steps import (
    ROUTER_ACTOR,
    StepContext,
    change,
    load,
    record,
    reopen_values,
)
from switchboard_shared.events import (
    MentionIn,
    RoutedAction,
)


def _sent_posts(conn: Connection, wanted: set[tuple[str, str]]) -> dict[tuple[str, str], Any]:
    """Which (source, platform post id) pairs are our own sent replies -> the reply row."""
    found: dict[tuple[str, str], Any] = {}
    by_source: dict[str, set[str]] = {}
    for source, post_id in wanted:
        by_source.setdefault(source, set()).add(post_id)
    for source, post_ids in by_source.items():
        rows = conn.execute(
            select(replies.c.id, replies.c.item_id, replies.c.platform_post_id).where(
                replies.c.source == source, replies.c.platform_post_id.in_(sorted(post_ids))
            )
        ).all()
        found.update({(source, r.platform_post_id): r for r in rows})
    return found


def answered_reply(mention: MentionIn) -> list[str]:
    """The platform ids this mention answers (its `reply` references)."""
    return [r.source_id for r in mention.references if r.kind == "reply"]


def sort_threads(
    engine: Engine, mentions: Sequence[tuple[str, MentionIn]]
) -> tuple[set[str], dict[str, Any]]:
    """Of these (mention id, mention): our own posts brought back (echoes), and citizens'
    answers to one of our sent replies (mention id -> that reply), which join its thread."""
    wanted = {(m.source.value, m.source_id) for _, m in mentions}
    wanted |= {(m.source.value, ref) for _, m in mentions for ref in answered_reply(m)}
    if not mentions:
        return set(), {}
    with engine.begin() as conn:
        ours = _sent_posts(conn, wanted)
    echoes = {mid for mid, m in mentions if (m.source.value, m.source_id) in ours}
    answering: dict[str, Any] = {}
    for mention_id, m in mentions:
        if mention_id in echoes:
            continue
        for ref in answered_reply(m):
            if (m.source.value, ref) in ours:
                answering[mention_id] = ours[(m.source.value, ref)]
                break
    return echoes, answering


def join_threads(
    engine: Engine,
    answering: Sequence[tuple[str, MentionIn, Any]],
    *,
    context: StepContext,
    received_at: Mapping[str, datetime],
) -> int:
    """Put citizens' answers in their items' threads, reopening a resolved item; how many
    were new (a replayed answer is already there)."""
    added = 0
    with engine.begin() as conn:
        for mention_id, mention, reply in answering:
            stored = conn.execute(
                insert_ignore(conn, answers)
                .values(
                    item_id=reply.item_id,
                    reply_id=reply.id,
                    mention_id=mention_id,
                    source=mention.source.value,
                    source_id=mention.source_id,
                    text=mention.text,
                    author=mention.author.handle if mention.author else None,
                    written_at=mention.created_at,
                    received_at=received_at.get(mention_id, context.now),
                )
                .on_conflict_do_nothing(index_elements=["mention_id"])
                .returning(answers.c.id)
            ).first()
            if stored is None:
                continue  # replayed: already in the thread
            added += 1
            item = load(conn, reply.item_id, lock=True)
            reopened = item.status == ItemStatus.RESOLVED and change(
                conn,
                item.id,
                items.c.status == ItemStatus.RESOLVED,
                resolved_at=None,
                disposition=None,
                **reopen_values(context, item.queue_id, item.urgency),
            )
            record(
                conn,
                load(conn, item.id),
                RoutedAction.CITIZEN_ANSWERED,
                actor=ROUTER_ACTOR,
                now=context.now,
                details={"reply_id": reply.id, "mention_id": mention_id, "reopened": reopened},
            )
            metrics.CITIZEN_ANSWERS.labels(mention.source.value).inc()
    return added


def thread_answers(engine: Engine, *, item_id: int) -> list[dict[str, Any]]:
    """The citizens' answers on an item, oldest first (the caller checked it may read it)."""
    with engine.begin() as conn:
        rows = conn.execute(
            select(answers).where(answers.c.item_id == item_id).order_by(answers.c.id)
        ).all()
    return [
        {
            "answer_id": r.id,
            "reply_id": r.reply_id,
            "mention_id": r.mention_id,
            "source_id": r.source_id,
            "text": r.text,
            "author": r.author,
            "written_at": aware(r.written_at),
            "received_at": aware(r.received_at),
        }
        for r in rows
    ]
