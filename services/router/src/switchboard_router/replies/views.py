"""Reply routes: answer the citizen on an item, the thread of replies, and the
supervisor's approval list and decisions.

Same checks as items: a reply is found through its item, so a caller who may
not see the item gets 404 for its replies too, and one who may read but not
work on it gets 403. Views are thin: authenticate, call `service` in a
thread (each step's access row commits with the step), wake the relay.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, cast

from fastapi import APIRouter, Depends, Path, Query, Request
from sqlalchemy import Engine

from switchboard_router.audit import service as access
from switchboard_router.audit.service import Access, AccessAction
from switchboard_router.fields import QUEUE_ID_PATTERN
from switchboard_router.http import call, errors, invalid
from switchboard_router.people.deps import (
    ActingBy,
    CurrentCaller,
    EngineDep,
    ItemPath,
    acting,
    audit_read,
)
from switchboard_router.replies import reports, service, threads
from switchboard_router.replies.policy import ReplyPolicy
from switchboard_router.replies.schemas import (
    AnswerPublic,
    ItemReplies,
    ReplyCreate,
    ReplyDecision,
    ReplyEdit,
    ReplyList,
    ReplyOptions,
    ReplyPublic,
    ResponseTimeGroup,
    ResponseTimes,
)
from switchboard_shared.events import ReplyStatus, Source, Urgency

router = APIRouter()

ReplyPath = Annotated[str, Path(pattern=r"^rep_[0-9a-f]{16}$", description="Reply id.")]
STEP_ERRORS = errors(403, 404, 409)


class ReplyWork:
    """What a reply step takes from its request: the caller, the engine and the reply policy."""

    def __init__(self, request: Request, caller: CurrentCaller, engine: EngineDep) -> None:
        self.request, self.caller, self.engine = request, caller, engine

    @property
    def policy(self) -> ReplyPolicy:
        replies: ReplyPolicy = self.request.app.state.policies.current().replies
        return replies

    async def act(self, fn: Callable[..., dict[str, Any]], obj: str, **kwargs: Any) -> ReplyPublic:
        """Run a reply step with its access row, then wake the relay for its events."""
        by = acting(self.request, self.caller)
        entry = access.Access(by, AccessAction.REPLY_STEP, obj=obj, details={"step": fn.__name__})
        engine = cast(Engine, access.RecordingEngine(self.engine, entry))
        row = await call(fn, engine, actor=self.caller, now=datetime.now(UTC), **kwargs)
        self.request.app.state.relay.wake()
        return ReplyPublic(**row)

    async def on_reply(
        self, fn: Callable[..., dict[str, Any]], reply_id: str, **kwargs: Any
    ) -> ReplyPublic:
        """`act` on one reply, named in its access row."""
        return await self.act(fn, f"reply:{reply_id}", reply_id=reply_id, **kwargs)


Work = Annotated[ReplyWork, Depends()]


@router.post(
    "/v1/items/{item_id}/replies",
    status_code=201,
    summary="Answer the citizen: a reply on an item (free text or a template)",
    responses=STEP_ERRORS,
)
async def create_reply(item_id: ItemPath, body: ReplyCreate, work: Work) -> ReplyPublic:
    """Submitted at once (for approval, or approved by the policy) unless `draft` is true.

    422 names the field: text over the platform's limit, an unknown template or
    variable, or an item whose source cannot be answered.
    """
    return await work.act(
        service.create, f"item:{item_id}", item_id=item_id, policy=work.policy, **body.model_dump()
    )


@router.get(
    "/v1/items/{item_id}/replies",
    summary="The thread of an item: our replies and the citizen's answers, oldest first",
    responses=errors(404),
)
async def list_replies(
    item_id: ItemPath, caller: CurrentCaller, by: ActingBy, engine: EngineDep
) -> ItemReplies:
    """Each reply with its status, author, approver, attempts and the platform's post id once
    sent; and the citizen's answers to them (`answers`)."""
    rows = await call(service.for_item, engine, item_id=item_id, actor=caller)
    answers = await call(threads.thread_answers, engine, item_id=item_id)
    shown = {"replies": [r["reply_id"] for r in rows], "answers": [a["answer_id"] for a in answers]}
    await audit_read(engine, Access(by, AccessAction.REPLIES_READ, f"item:{item_id}", shown))
    return ItemReplies(
        replies=[ReplyPublic(**r) for r in rows], answers=[AnswerPublic(**a) for a in answers]
    )


@router.get(
    "/v1/items/{item_id}/reply-options",
    summary="What a reply on this item may be: limit, templates, approval rule",
    responses=errors(404),
)
async def reply_options(
    item_id: ItemPath, request: Request, caller: CurrentCaller, engine: EngineDep
) -> ReplyOptions:
    """For the console's reply box: the platform's limit, the templates and which approval
    rule a free text or a template answer would meet (none when the item cannot be answered)."""
    options = await call(
        service.reply_options,
        engine,
        item_id=item_id,
        actor=caller,
        policy=request.app.state.policies.current().replies,
    )
    return ReplyOptions(**options)


@router.get(
    "/v1/replies",
    summary="Replies waiting for a supervisor's approval, on items you may see",
    responses=errors(),
)
async def replies_waiting(
    caller: CurrentCaller,
    by: ActingBy,
    engine: EngineDep,
    status: Annotated[
        ReplyStatus,
        Query(description="Only `pending_approval` is listed across items."),
    ] = ReplyStatus.PENDING_APPROVAL,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> ReplyList:
    """The approval list, oldest first."""
    if status is not ReplyStatus.PENDING_APPROVAL:
        raise invalid("query.status", "only pending_approval is listed across items")
    rows = await call(service.waiting_for_approval, engine, actor=caller, limit=limit)
    shown = {"replies": [r["reply_id"] for r in rows]}
    await audit_read(engine, Access(by, AccessAction.REPLIES_READ, None, shown))
    return ReplyList(replies=[ReplyPublic(**r) for r in rows])


@router.patch(
    "/v1/replies/{reply_id}",
    summary="Edit a reply (approval, if any, is needed again)",
    responses=STEP_ERRORS,
)
async def edit_reply(reply_id: ReplyPath, body: ReplyEdit, work: Work) -> ReplyPublic:
    """Allowed until the reply is handed to the responder; an approved one goes back for approval."""
    return await work.on_reply(service.edit, reply_id, policy=work.policy, text=body.text)


@router.post("/v1/replies/{reply_id}/submit", summary="Submit a draft", responses=STEP_ERRORS)
async def submit_reply(reply_id: ReplyPath, work: Work) -> ReplyPublic:
    """For approval, or approved by the policy."""
    return await work.on_reply(service.submit, reply_id, policy=work.policy)


@router.post(
    "/v1/replies/{reply_id}/approve",
    summary="Approve a reply (a supervisor who is not its author)",
    responses=STEP_ERRORS,
)
async def approve_reply(reply_id: ReplyPath, work: Work) -> ReplyPublic:
    """The approval is bound to the reply's current text; it is sent after the policy's hold."""
    return await work.on_reply(service.approve, reply_id, policy=work.policy)


@router.post(
    "/v1/replies/{reply_id}/reject",
    summary="Reject a reply (a supervisor who is not its author)",
    responses=STEP_ERRORS,
)
async def reject_reply(
    reply_id: ReplyPath, work: Work, body: ReplyDecision | None = None
) -> ReplyPublic:
    """With an optional note saying why."""
    return await work.on_reply(service.reject, reply_id, note=body.note if body else None)


@router.post(
    "/v1/replies/{reply_id}/cancel", summary="Cancel a reply not yet sent", responses=STEP_ERRORS
)
async def cancel_reply(
    reply_id: ReplyPath, work: Work, body: ReplyDecision | None = None
) -> ReplyPublic:
    """Before it is handed to the responder, or a failed or unknown one nobody will retry."""
    return await work.on_reply(service.cancel, reply_id, note=body.note if body else None)


@router.post(
    "/v1/replies/{reply_id}/retry",
    summary="Send a failed or unknown reply again (after looking at the thread)",
    responses=STEP_ERRORS,
)
async def retry_reply(reply_id: ReplyPath, work: Work) -> ReplyPublic:
    """A new attempt with the same approved text."""
    return await work.on_reply(service.retry, reply_id)


MAX_REPORT_DAYS = 92


@router.get(
    "/v1/reports/response-times",
    summary="How fast and how often we answer: counts, p50 and p90 per queue, urgency, source",
    responses=errors(),
    response_model_by_alias=True,
)
async def response_times(
    request: Request,
    caller: CurrentCaller,
    by: ActingBy,
    engine: EngineDep,
    queue: Annotated[str | None, Query(pattern=QUEUE_ID_PATTERN)] = None,
    urgency: Urgency | None = None,
    source: Source | None = None,
    from_: Annotated[
        datetime | None,
        Query(alias="from", description="Mentions received from (default: 7 days ago)."),
    ] = None,
    to: Annotated[datetime | None, Query(description="... until (default: now).")] = None,
) -> ResponseTimes:
    """First-response time (the citizen's post to our first reply the platform confirmed),
    time to resolve, and the answered share, over the queues you may read."""
    until = _utc(to, "query.to") if to else datetime.now(UTC)
    since = _utc(from_, "query.from") if from_ else until - timedelta(days=7)
    if since >= until:
        raise invalid("query.from", "must be before `to`")
    if until - since > timedelta(days=MAX_REPORT_DAYS):
        raise invalid("query.from", f"at most {MAX_REPORT_DAYS} days between from and to")
    groups = await call(
        reports.response_times,
        engine,
        actor=caller,
        policy=request.app.state.policies.current().replies,
        since=since,
        until=until,
        queue_id=queue,
        urgency=urgency,
        source=source.value if source else None,
    )
    shown = {"from": since.isoformat(), "to": until.isoformat(), "queue": queue}
    await audit_read(engine, Access(by, AccessAction.REPORT_READ, None, shown))
    return ResponseTimes.model_validate(
        {"from": since, "to": until, "groups": [ResponseTimeGroup(**g) for g in groups]}
    )


def _utc(value: datetime, field: str) -> datetime:
    if value.tzinfo is None:
        raise invalid(field, "a time with its offset (e.g. 2026-12-01T00:00:00Z) is required")
    return value.astimezone(UTC)
