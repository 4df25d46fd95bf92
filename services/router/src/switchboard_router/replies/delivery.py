"""Handing approved replies to the responder and storing what it reports back.

- `dispatch_due` (the scheduler): approved replies whose hold has passed get
  their next attempt number, become `sending`, and their request goes to the
  outbox. From then on only the responder's reports move them;
- `apply_outcomes` (the outcome consumer): the responder's reports, counted
  only for the attempt in flight and only forward (`policy.outcome_applies`);
- `unreported`: hand-overs the responder never answered, for the on-call gauge.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, func, select

from switchboard_router import metrics
from switchboard_router.db.tables import replies
from switchboard_router.items.steps import (
    ROUTER_ACTOR,
    enqueue,
    load,
    written_at,
)
from switchboard_router.replies.policy import (
    outcome_applies,
)
from switchboard_router.replies.store import (
    DISPATCH_BATCH,
    RESPONDER_ACTOR,
    audit_step,
    change_and_record,
    change_reply,
    load_reply,
    text_sha256,
)
from switchboard_shared.events import (
    ReplyOutcome,
    ReplyRequested,
    ReplyStatus,
    RoutedAction,
    Source,
)
from switchboard_shared.topics import REPLIES


def dispatch_due(engine: Engine, *, now: datetime, limit: int = DISPATCH_BATCH) -> int:
    """Hand approved replies whose hold has passed to the responder; how many."""
    with engine.begin() as conn:
        query = (
            select(replies)
            .where(replies.c.status == ReplyStatus.APPROVED, replies.c.send_after <= now)
            .order_by(replies.c.send_after, replies.c.id)
            .limit(limit)
        )
        if conn.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        due = conn.execute(query).all()
        for reply in due:
            item = load(conn, reply.item_id)
            if reply.approved_text_sha256 != text_sha256(reply.text):
                # Never send words nobody approved, whatever wrote them.
                unapproved = {
                    "status": ReplyStatus.PENDING_APPROVAL,
                    "approver": None,
                    "approved_at": None,
                    "approved_text_sha256": None,
                }
                change_and_record(
                    conn,
                    item,
                    reply,
                    RoutedAction.REPLY_EDITED,
                    actor=ROUTER_ACTOR,
                    now=now,
                    values=unapproved,
                )
                continue
            attempt = int(reply.attempts) + 1
            sending = {
                "status": ReplyStatus.SENDING,
                "attempts": attempt,
                "dispatched_at": now,
                "error": None,
                "http_status": None,
            }
            event = ReplyRequested(
                reply_id=reply.id,
                mention_id=reply.mention_id,
                item_id=reply.item_id,
                source=Source(reply.source),
                in_reply_to=reply.in_reply_to,
                text=reply.text,
                attempt=attempt,
                requested_at=now,
            )
            change_and_record(
                conn,
                item,
                reply,
                RoutedAction.REPLY_DISPATCHED,
                actor=ROUTER_ACTOR,
                now=now,
                values=sending,
                attempt=attempt,
            )
            enqueue(conn, REPLIES, reply.mention_id, event, now)
            metrics.REPLY_STEPS.labels(RoutedAction.REPLY_DISPATCHED.value).inc()
        return len(due)


def apply_outcomes(engine: Engine, outcomes: Sequence[ReplyOutcome], *, now: datetime) -> int:
    """Store the responder's reports; how many changed a reply's status (stale or repeated
    ones do not; a `sending` report only updates the retry time it carries)."""
    moved = 0
    with engine.begin() as conn:
        for outcome in outcomes:
            reply = load_reply(conn, outcome.reply_id, lock=True)
            if reply is None or int(reply.attempts) != outcome.attempt:
                continue  # an attempt a person has since retried, or a reply purged
            current, reported = ReplyStatus(reply.status), ReplyStatus(outcome.status)
            if not outcome_applies(current, reported):
                continue
            values: dict[str, Any] = {
                "status": reported,
                "http_status": outcome.http_status,
                "error": outcome.error,
                "retry_at": outcome.retry_at,
                "updated_at": now,
            }
            if reported is ReplyStatus.SENT:
                values |= {"platform_post_id": outcome.platform_post_id, "sent_at": outcome.at}
            after = change_reply(conn, reply.id, current, **values)
            if reported is current:
                continue  # a `sending` report with a new retry time: stored, not a new step
            moved += 1
            item = load(conn, reply.item_id)
            audit_step(
                conn,
                item,
                RoutedAction.REPLY_REPORTED,
                after._mapping,
                actor=RESPONDER_ACTOR,
                now=now,
                attempt=outcome.attempt,
                http_status=outcome.http_status,
                channel=outcome.channel,
            )
            metrics.REPLY_OUTCOMES.labels(reported.value).inc()
            if reported is ReplyStatus.SENT:
                _observe_first_response(conn, item, reply.id, outcome.at)
    return moved


def _observe_first_response(conn: Connection, item: Any, reply_id: str, sent_at: datetime) -> None:
    """The mention's first answer: from when the citizen wrote to when the platform confirmed."""
    earlier = conn.execute(
        select(replies.c.id).where(
            replies.c.item_id == item.id,
            replies.c.status == ReplyStatus.SENT,
            replies.c.id != reply_id,
        )
    ).first()
    if earlier is not None:
        return
    written = written_at(item.mention)
    if written is None:
        return
    waited = (sent_at - written).total_seconds()
    metrics.FIRST_RESPONSE.labels(item.queue_id, item.urgency, item.source).observe(
        max(0.0, waited)
    )


UNREPORTED_AFTER = timedelta(minutes=5)


def unreported(engine: Engine, *, now: datetime) -> int:
    """Replies handed over more than `UNREPORTED_AFTER` ago that the responder never reported
    on (still `sending`, no retry time): what the on-call engineer must look at."""
    with engine.begin() as conn:
        return int(
            conn.execute(
                select(func.count())
                .select_from(replies)
                .where(
                    replies.c.status == ReplyStatus.SENDING,
                    replies.c.dispatched_at < now - UNREPORTED_AFTER,
                    replies.c.retry_at.is_(None),
                )
            ).scalar_one()
        )
