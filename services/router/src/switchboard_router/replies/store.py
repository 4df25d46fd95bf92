"""A reply row in the store: the columns of a reply just submitted, loading it, changing it
only from the status it was read in, and the audit step every change to it appends to its
item's trail."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, select, update

from switchboard_router.db.engine import aware
from switchboard_router.db.tables import replies
from switchboard_router.items.steps import (
    Conflict,
    Invalid,
    record,
)
from switchboard_router.replies.policy import Approval, ReplyCase, ReplyPolicy
from switchboard_shared.events import (
    ReplyStatus,
    RoutedAction,
    Source,
    Urgency,
)

RESPONDER_ACTOR = "responder"
DISPATCH_BATCH = 200


def text_sha256(text: str) -> str:
    """What an approval is bound to."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def public_view(row: Any) -> dict[str, Any]:
    out = dict(row._mapping)
    out["reply_id"] = out.pop("id")
    for name in ("approved_at", "send_after", "dispatched_at", "retry_at", "sent_at"):
        out[name] = aware(out[name])
    out["created_at"] = aware(out["created_at"])
    out["updated_at"] = aware(out["updated_at"])
    return out


def load_reply(conn: Connection, reply_id: str, *, lock: bool = False) -> Any:
    query = select(replies).where(replies.c.id == reply_id)
    if lock and conn.dialect.name == "postgresql":
        query = query.with_for_update()
    return conn.execute(query).first()


def audit_step(
    conn: Connection,
    item: Any,
    action: RoutedAction,
    reply: Mapping[str, Any],
    *,
    actor: str,
    now: datetime,
    **details: Any,
) -> None:
    record(
        conn,
        item,
        action,
        actor=actor,
        now=now,
        details={"reply_id": reply["id"], "status": str(reply["status"]), **details},
    )


def change_reply(conn: Connection, reply_id: str, expected: ReplyStatus, **values: Any) -> Any:
    """Update a reply still in `expected` (409 otherwise) and return it as it is now."""
    done = conn.execute(
        update(replies)
        .where(replies.c.id == reply_id, replies.c.status == expected)
        .values(**values)
    )
    if done.rowcount != 1:
        raise Conflict(f"reply {reply_id} changed meanwhile; read it again")
    return load_reply(conn, reply_id)


def change_and_record(
    conn: Connection,
    item: Any,
    reply: Any,
    action: RoutedAction,
    *,
    actor: str,
    now: datetime,
    values: dict[str, Any],
    **details: Any,
) -> Any:
    """`change_reply` from the status `reply` was read in, stamped `now`, and the step in its
    item's audit trail: the reply as it is now."""
    after = change_reply(conn, reply.id, ReplyStatus(reply.status), **values, updated_at=now)
    audit_step(conn, item, action, after._mapping, actor=actor, now=now, **details)
    return after


def source_of(row: Any) -> Source:
    try:
        return Source(row.source)
    except ValueError:  # a source this router does not know cannot be answered
        raise Invalid(
            f"item.source: mentions from {row.source!r} cannot be answered", field="item.source"
        ) from None


def approval_of(policy: ReplyPolicy, item: Any, *, template: bool) -> Approval:
    """The approval rule a reply on this item meets, free text or a template answer."""
    case = ReplyCase(
        urgency=Urgency(item.urgency),
        topics=frozenset(item.topics or ()),
        queue_id=item.queue_id,
        source=source_of(item),
        template=template,
    )
    return policy.approval_for(case)


def approval_state(
    policy: ReplyPolicy, item: Any, *, template: bool, now: datetime, text: str
) -> dict[str, Any]:
    """The columns of a reply just submitted: waiting for a supervisor, or approved by rule."""
    approval = approval_of(policy, item, template=template)
    if approval.required:
        return {
            "status": ReplyStatus.PENDING_APPROVAL,
            "approval_required": True,
            "approval_rule": approval.rule,
            "approver": None,
            "approved_at": None,
            "approved_text_sha256": None,
            "send_after": None,
        }
    return {
        "status": ReplyStatus.APPROVED,
        "approval_required": False,
        "approval_rule": approval.rule,
        "approver": None,
        "approved_at": now,
        "approved_text_sha256": text_sha256(text),
        "send_after": now + timedelta(seconds=policy.hold_seconds),
    }
