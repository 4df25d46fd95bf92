"""Replies to citizens in the store: writing, approving, handing over, and what came back.

Each step is one transaction that changes the reply, appends its step to the
item's audit trail and (for the hand-over) puts the `ReplyRequested` event in
the outbox, like every step on an item (`items/steps.py`):

- `create` (draft, or submitted at once), `edit`, `submit`;
- `approve` / `reject` by a supervisor of the item's queue who is not the
  author; approval is bound to the exact text (its sha256), so an edit takes
  the reply back to `pending_approval`;
- `cancel` before the hand-over (or after a failure nobody will retry), and
  `retry` of a retryable failure or an unknown outcome, by a person;

The hand-over and the responder's reports are in `delivery.py`, echoes and
citizens' answers in `threads.py`, the response-time reports in `reports.py`;
`store.py` holds what they all do to a reply row.

No reply or mention text goes into audit details or events other than the
request itself: the audit trail says what happened, the reply row holds what
was said.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import Connection, Engine, insert, select

from switchboard_router import metrics
from switchboard_router.db.tables import items, replies
from switchboard_router.items.steps import (
    Conflict,
    Forbidden,
    Invalid,
    NotFound,
    actable,
    visible,
    visible_item_filter,
)
from switchboard_router.people.security import Principal, new_id
from switchboard_router.replies.policy import (
    CANCELLABLE,
    DECIDABLE,
    EDITABLE,
    RETRYABLE,
    SUBMITTABLE,
    ReplyPolicy,
    ReplyRefused,
)
from switchboard_router.replies.store import (
    approval_of,
    approval_state,
    audit_step,
    change_and_record,
    load_reply,
    public_view,
    source_of,
    text_sha256,
)
from switchboard_shared.events import (
    ReplyStatus,
    RoutedAction,
    Source,
)


def _refused(exc: ReplyRefused) -> Invalid:
    return Invalid(f"{exc.field}: {exc.detail}", field=exc.field)


def _check_text(policy: ReplyPolicy, item: Any, text: str) -> None:
    """422 naming the field when the text is too long for the item's platform."""
    try:
        policy.check_text(source_of(item), text)
    except ReplyRefused as exc:
        raise _refused(exc) from exc


def _reply_and_item(conn: Connection, actor: Principal, reply_id: str) -> tuple[Any, Any]:
    """The reply and its item, 404 unless the caller sees the item, 403 unless they work it."""
    reply = load_reply(conn, reply_id, lock=True)
    if reply is None:
        raise NotFound(f"reply {reply_id} does not exist")
    try:
        item = actable(conn, actor, reply.item_id)
    except NotFound:
        raise NotFound(f"reply {reply_id} does not exist") from None
    return reply, item


def _author_or_supervisor(actor: Principal, reply: Any) -> None:
    if reply.author != actor.officer_id and not actor.is_supervisor:
        raise Forbidden(
            f"reply {reply.id} is {reply.author}'s; only they or a supervisor may change it"
        )


def create(
    engine: Engine,
    *,
    item_id: int,
    actor: Principal,
    now: datetime,
    policy: ReplyPolicy,
    text: str | None,
    template_id: str | None,
    variables: Mapping[str, str],
    language: str | None,
    draft: bool,
) -> dict[str, Any]:
    """A reply on an item: a draft, or submitted (for approval, or approved by rule)."""
    with engine.begin() as conn:
        item = actable(conn, actor, item_id)
        source = source_of(item)
        try:
            policy.limit_for(source)
            if template_id is not None:
                stated = language or (item.mention or {}).get("language") or None
                text, language = policy.template(template_id).render(
                    (stated or "").split("-")[0].lower() or None, variables
                )
            assert text is not None  # the schema asks for text or template_id
            policy.check_text(source, text, "body.variables" if template_id else "body.text")
        except ReplyRefused as exc:
            raise _refused(exc) from exc
        reply_id = new_id("rep")
        values: dict[str, Any] = {
            "id": reply_id,
            "item_id": item.id,
            "mention_id": item.mention_id,
            "source": source.value,
            "in_reply_to": item.source_id,
            "text": text,
            "template_id": template_id,
            "language": language,
            "author": actor.officer_id,
            "attempts": 0,
            "created_at": now,
            "updated_at": now,
        }
        if draft:
            values |= {"status": ReplyStatus.DRAFT, "approval_required": True, "approval_rule": ""}
            action = RoutedAction.REPLY_DRAFTED
        else:
            values |= approval_state(
                policy, item, template=template_id is not None, now=now, text=text
            )
            action = RoutedAction.REPLY_SUBMITTED
        conn.execute(insert(replies).values(**values))
        reply = load_reply(conn, reply_id)
        audit_step(
            conn,
            item,
            action,
            reply._mapping,
            actor=actor.officer_id,
            now=now,
            approval_rule=reply.approval_rule,
            template_id=template_id,
            characters=len(text),
        )
        metrics.REPLY_STEPS.labels(action.value).inc()
        return public_view(reply)


def edit(
    engine: Engine,
    *,
    reply_id: str,
    actor: Principal,
    now: datetime,
    policy: ReplyPolicy,
    text: str,
) -> dict[str, Any]:
    """New text: a draft stays a draft; anything submitted needs approval again."""
    with engine.begin() as conn:
        reply, item = _reply_and_item(conn, actor, reply_id)
        _author_or_supervisor(actor, reply)
        status = ReplyStatus(reply.status)
        if status not in EDITABLE:
            raise Conflict(
                f"reply {reply_id} is {status.value}; only a draft, a reply waiting for "
                "approval or one approved and not yet sent can be edited"
            )
        _check_text(policy, item, text)
        values: dict[str, Any] = {"text": text, "template_id": None}
        if status is not ReplyStatus.DRAFT:
            # The approval was for other words: the edited text is judged afresh, as free text.
            values |= approval_state(policy, item, template=False, now=now, text=text)
        after = change_and_record(
            conn,
            item,
            reply,
            RoutedAction.REPLY_EDITED,
            actor=actor.officer_id,
            now=now,
            values=values,
            was=status.value,
            characters=len(text),
        )
        return public_view(after)


def submit(
    engine: Engine, *, reply_id: str, actor: Principal, now: datetime, policy: ReplyPolicy
) -> dict[str, Any]:
    """A draft goes for approval (or is approved by rule)."""
    with engine.begin() as conn:
        reply, item = _reply_and_item(conn, actor, reply_id)
        _author_or_supervisor(actor, reply)
        if ReplyStatus(reply.status) not in SUBMITTABLE:
            raise Conflict(f"reply {reply_id} is {reply.status}; only a draft can be submitted")
        _check_text(policy, item, reply.text)
        values = approval_state(
            policy, item, template=reply.template_id is not None, now=now, text=reply.text
        )
        after = change_and_record(
            conn,
            item,
            reply,
            RoutedAction.REPLY_SUBMITTED,
            actor=actor.officer_id,
            now=now,
            values=values,
            approval_rule=values["approval_rule"],
        )
        return public_view(after)


def _decider(actor: Principal, reply: Any) -> None:
    if not actor.is_supervisor:
        raise Forbidden(f"reply {reply.id}: only a supervisor may approve or reject replies")
    if reply.author == actor.officer_id:
        raise Forbidden(f"reply {reply.id}: the author may not approve or reject their own reply")


class _PersonStep(NamedTuple):
    """A step a person takes on a reply: its audit action, who may, from which states."""

    action: RoutedAction
    may: Callable[[Principal, Any], None]
    allowed: frozenset[ReplyStatus]
    refusal: str


_APPROVING = _PersonStep(
    RoutedAction.REPLY_APPROVED, _decider, DECIDABLE, "only a reply waiting for approval"
)
_REJECTING = _PersonStep(
    RoutedAction.REPLY_REJECTED, _decider, DECIDABLE, "only a reply waiting for approval"
)
_CANCELLING = _PersonStep(
    RoutedAction.REPLY_CANCELLED,
    _author_or_supervisor,
    CANCELLABLE,
    "it has been handed to the responder or is already closed; only one not yet sent",
)
_RETRYING = _PersonStep(
    RoutedAction.REPLY_RETRIED,
    _author_or_supervisor,
    RETRYABLE,
    "only failed_retryable or unknown replies",
)


def _move(
    engine: Engine,
    step: _PersonStep,
    values: Callable[[Any], dict[str, Any]],
    *,
    reply_id: str,
    actor: Principal,
    now: datetime,
) -> dict[str, Any]:
    """A person's step on a reply: the checks, what changes, its audit step (with the
    state it left) and its count."""
    with engine.begin() as conn:
        reply, item = _reply_and_item(conn, actor, reply_id)
        step.may(actor, reply)
        status = ReplyStatus(reply.status)
        if status not in step.allowed:
            raise Conflict(f"reply {reply_id} is {status.value}: {step.refusal} can be")
        after = change_and_record(
            conn,
            item,
            reply,
            step.action,
            actor=actor.officer_id,
            now=now,
            values=values(reply),
            was=status.value,
        )
        metrics.REPLY_STEPS.labels(step.action.value).inc()
        return public_view(after)


def approve(
    engine: Engine, *, reply_id: str, actor: Principal, now: datetime, policy: ReplyPolicy
) -> dict[str, Any]:
    """A second person, a supervisor, approves these exact words."""
    hold = timedelta(seconds=policy.hold_seconds)
    approval = {"status": ReplyStatus.APPROVED, "approver": actor.officer_id, "approved_at": now}
    return _move(
        engine,
        _APPROVING,
        lambda r: {
            **approval,
            "approved_text_sha256": text_sha256(r.text),
            "send_after": now + hold,
        },
        reply_id=reply_id,
        actor=actor,
        now=now,
    )


def reject(
    engine: Engine, *, reply_id: str, actor: Principal, now: datetime, note: str | None
) -> dict[str, Any]:
    """A supervisor refuses it; the author can write a new one."""
    rejection = {"status": ReplyStatus.REJECTED, "approver": actor.officer_id, "note": note}
    return _move(engine, _REJECTING, lambda _: rejection, reply_id=reply_id, actor=actor, now=now)


def cancel(
    engine: Engine, *, reply_id: str, actor: Principal, now: datetime, note: str | None
) -> dict[str, Any]:
    """Stop a reply that has not been handed over, or give up on a failed one."""
    cancelled = {"status": ReplyStatus.CANCELLED, "note": note}
    return _move(engine, _CANCELLING, lambda _: cancelled, reply_id=reply_id, actor=actor, now=now)


def retry(engine: Engine, *, reply_id: str, actor: Principal, now: datetime) -> dict[str, Any]:
    """A person, having looked at the thread, sends a failed or unknown reply again.

    The approval stands (the text has not changed); the dispatcher gives the
    next hand-over a new attempt number, so the responder sends it.
    """
    again = {
        "status": ReplyStatus.APPROVED,
        "send_after": now,
        "dispatched_at": None,
        "retry_at": None,
    }
    return _move(engine, _RETRYING, lambda _: again, reply_id=reply_id, actor=actor, now=now)


def for_item(engine: Engine, *, item_id: int, actor: Principal) -> list[dict[str, Any]]:
    """The replies on an item the caller may read, oldest first."""
    with engine.begin() as conn:
        visible(conn, actor, item_id)
        rows = conn.execute(
            select(replies)
            .where(replies.c.item_id == item_id)
            .order_by(replies.c.created_at, replies.c.id)
        ).all()
    return [public_view(r) for r in rows]


def waiting_for_approval(engine: Engine, *, actor: Principal, limit: int) -> list[dict[str, Any]]:
    """Replies waiting for a supervisor, on items the caller may see, oldest first."""
    with engine.begin() as conn:
        rows = conn.execute(
            select(replies)
            .join(items, items.c.id == replies.c.item_id)
            .where(replies.c.status == ReplyStatus.PENDING_APPROVAL, visible_item_filter(actor))
            .order_by(replies.c.updated_at, replies.c.id)
            .limit(limit)
        ).all()
    return [public_view(r) for r in rows]


def reply_options(
    engine: Engine, *, item_id: int, actor: Principal, policy: ReplyPolicy
) -> dict[str, Any]:
    """What a reply box on this item needs: whether and how long, the templates, and which
    approval rule a free text and a template answer would meet."""
    with engine.begin() as conn:
        item = visible(conn, actor, item_id)
    try:
        source = Source(item.source)
        limit: int | None = policy.limit_for(source)
        why = None
    except (ValueError, ReplyRefused) as exc:
        limit, why = None, exc.detail if isinstance(exc, ReplyRefused) else str(exc)
    approvals = {}
    if limit is not None:
        for kind, template in (("free_text", False), ("template", True)):
            approval = approval_of(policy, item, template=template)
            approvals[kind] = {"required": approval.required, "rule": approval.rule}
    return {
        "item_id": item.id,
        "source": item.source,
        "answerable": limit is not None,
        "why_not": why,
        "limit": limit,
        "language": (item.mention or {}).get("language"),
        "hold_seconds": policy.hold_seconds,
        "approval": approvals,
        "templates": [
            {
                "template_id": t.template_id,
                "languages": sorted(t.texts),
                "variables": sorted(t.variables),
                "texts": t.texts,
            }
            for t in policy.templates.values()
        ],
    }
