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
- `dispatch_due` (the scheduler): approved replies whose hold has passed get
  their next attempt number, become `sending`, and their request goes to the
  outbox. From then on only the responder's reports move them;
- `apply_outcomes` (the outcome consumer): the responder's reports, counted
  only for the attempt in flight and only forward (`policy.outcome_applies`).

No reply or mention text goes into audit details or events other than the
request itself: the audit trail says what happened, the reply row holds what
was said.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import Connection, Engine, func, insert, select, update

from switchboard_router import metrics
from switchboard_router.db.engine import aware, insert_ignore
from switchboard_router.db.tables import answers, items, replies
from switchboard_router.items.status import ItemStatus
from switchboard_router.items.steps import (
    Conflict,
    Forbidden,
    Invalid,
    NotFound,
    StepContext,
    actable,
    change,
    enqueue,
    load,
    record,
    reopen_values,
    visible,
    visible_item_filter,
    written_at,
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
    outcome_applies,
)
from switchboard_shared.events import (
    Disposition,
    MentionIn,
    ReplyOutcome,
    ReplyRequested,
    ReplyStatus,
    RoutedAction,
    Source,
    Urgency,
)
from switchboard_shared.topics import REPLIES

RESPONDER_ACTOR = "responder"
DISPATCH_BATCH = 200


def text_sha256(text: str) -> str:
    """What an approval is bound to."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _refused(exc: ReplyRefused) -> Invalid:
    return Invalid(f"{exc.field}: {exc.detail}", field=exc.field)


def _source_of(row: Any) -> Source:
    try:
        return Source(row.source)
    except ValueError:  # a source this router does not know cannot be answered
        raise Invalid(
            f"item.source: mentions from {row.source!r} cannot be answered", field="item.source"
        ) from None


def _approval_state(
    policy: ReplyPolicy, item: Any, *, template: bool, now: datetime, text: str
) -> dict[str, Any]:
    """The columns of a reply just submitted: waiting for a supervisor, or approved by rule."""
    approval = policy.approval_for(
        urgency=Urgency(item.urgency),
        topics=frozenset(item.topics or ()),
        queue_id=item.queue_id,
        source=_source_of(item),
        template=template,
    )
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


def _public(row: Any) -> dict[str, Any]:
    out = dict(row._mapping)
    out["reply_id"] = out.pop("id")
    for name in ("approved_at", "send_after", "dispatched_at", "retry_at", "sent_at"):
        out[name] = aware(out[name])
    out["created_at"] = aware(out["created_at"])
    out["updated_at"] = aware(out["updated_at"])
    return out


def _load_reply(conn: Connection, reply_id: str, *, lock: bool = False) -> Any:
    query = select(replies).where(replies.c.id == reply_id)
    if lock and conn.dialect.name == "postgresql":
        query = query.with_for_update()
    return conn.execute(query).first()


def _reply_and_item(conn: Connection, actor: Principal, reply_id: str) -> tuple[Any, Any]:
    """The reply and its item, 404 unless the caller sees the item, 403 unless they work it."""
    reply = _load_reply(conn, reply_id, lock=True)
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


def _step(
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


def _change(conn: Connection, reply_id: str, expected: ReplyStatus, **values: Any) -> Any:
    """Update a reply still in `expected` (409 otherwise) and return it as it is now."""
    done = conn.execute(
        update(replies)
        .where(replies.c.id == reply_id, replies.c.status == expected)
        .values(**values)
    )
    if done.rowcount != 1:
        raise Conflict(f"reply {reply_id} changed meanwhile; read it again")
    return _load_reply(conn, reply_id)


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
        source = _source_of(item)
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
            values |= _approval_state(
                policy, item, template=template_id is not None, now=now, text=text
            )
            action = RoutedAction.REPLY_SUBMITTED
        conn.execute(insert(replies).values(**values))
        reply = _load_reply(conn, reply_id)
        _step(
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
        return _public(reply)


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
        try:
            policy.check_text(_source_of(item), text)
        except ReplyRefused as exc:
            raise _refused(exc) from exc
        values: dict[str, Any] = {"text": text, "template_id": None, "updated_at": now}
        if status is not ReplyStatus.DRAFT:
            # The approval was for other words: the edited text is judged afresh, as free text.
            values |= _approval_state(policy, item, template=False, now=now, text=text)
        after = _change(conn, reply_id, status, **values)
        _step(
            conn,
            item,
            RoutedAction.REPLY_EDITED,
            after._mapping,
            actor=actor.officer_id,
            now=now,
            was=status.value,
            characters=len(text),
        )
        return _public(after)


def submit(
    engine: Engine, *, reply_id: str, actor: Principal, now: datetime, policy: ReplyPolicy
) -> dict[str, Any]:
    """A draft goes for approval (or is approved by rule)."""
    with engine.begin() as conn:
        reply, item = _reply_and_item(conn, actor, reply_id)
        _author_or_supervisor(actor, reply)
        if ReplyStatus(reply.status) not in SUBMITTABLE:
            raise Conflict(f"reply {reply_id} is {reply.status}; only a draft can be submitted")
        try:
            policy.check_text(_source_of(item), reply.text)
        except ReplyRefused as exc:
            raise _refused(exc) from exc
        values = _approval_state(
            policy, item, template=reply.template_id is not None, now=now, text=reply.text
        )
        after = _change(conn, reply_id, ReplyStatus.DRAFT, updated_at=now, **values)
        _step(
            conn,
            item,
            RoutedAction.REPLY_SUBMITTED,
            after._mapping,
            actor=actor.officer_id,
            now=now,
            approval_rule=after.approval_rule,
        )
        return _public(after)


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
        after = _change(conn, reply_id, status, updated_at=now, **values(reply))
        _step(
            conn,
            item,
            step.action,
            after._mapping,
            actor=actor.officer_id,
            now=now,
            was=status.value,
        )
        metrics.REPLY_STEPS.labels(step.action.value).inc()
        return _public(after)


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
                after = _change(
                    conn,
                    reply.id,
                    ReplyStatus.APPROVED,
                    status=ReplyStatus.PENDING_APPROVAL,
                    approver=None,
                    approved_at=None,
                    approved_text_sha256=None,
                    updated_at=now,
                )
                _step(
                    conn, item, RoutedAction.REPLY_EDITED, after._mapping, actor="router", now=now
                )
                continue
            attempt = int(reply.attempts) + 1
            after = _change(
                conn,
                reply.id,
                ReplyStatus.APPROVED,
                status=ReplyStatus.SENDING,
                attempts=attempt,
                dispatched_at=now,
                error=None,
                http_status=None,
                updated_at=now,
            )
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
            enqueue(conn, REPLIES, reply.mention_id, event, now)
            _step(
                conn,
                item,
                RoutedAction.REPLY_DISPATCHED,
                after._mapping,
                actor="router",
                now=now,
                attempt=attempt,
            )
            metrics.REPLY_STEPS.labels(RoutedAction.REPLY_DISPATCHED.value).inc()
        return len(due)


def apply_outcomes(engine: Engine, outcomes: Sequence[ReplyOutcome], *, now: datetime) -> int:
    """Store the responder's reports; how many changed a reply's status (stale or repeated
    ones do not; a `sending` report only updates the retry time it carries)."""
    moved = 0
    with engine.begin() as conn:
        for outcome in outcomes:
            reply = _load_reply(conn, outcome.reply_id, lock=True)
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
            after = _change(conn, reply.id, current, **values)
            if reported is current:
                continue  # a `sending` report with a new retry time: stored, not a new step
            moved += 1
            item = load(conn, reply.item_id)
            _step(
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


def for_item(engine: Engine, *, item_id: int, actor: Principal) -> list[dict[str, Any]]:
    """The replies on an item the caller may read, oldest first."""
    with engine.begin() as conn:
        visible(conn, actor, item_id)
        rows = conn.execute(
            select(replies)
            .where(replies.c.item_id == item_id)
            .order_by(replies.c.created_at, replies.c.id)
        ).all()
    return [_public(r) for r in rows]


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
    return [_public(r) for r in rows]


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
                actor="router",
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
            approval = policy.approval_for(
                urgency=Urgency(item.urgency),
                topics=frozenset(item.topics or ()),
                queue_id=item.queue_id,
                source=Source(item.source),
                template=template,
            )
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
