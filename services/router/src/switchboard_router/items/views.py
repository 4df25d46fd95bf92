"""Item routes: a queue's items, one item, the work on it (claim, heartbeat,
acknowledge, release, transfer, resolve, notes, feedback) and the change stream.

Views are thin: authenticate (`CurrentCaller`), call `service` in a thread,
shape the answer. Every work step's access row commits with the step itself.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, TypeVar, cast

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials
from sqlalchemy import Engine

from switchboard_router.audit import service as access
from switchboard_router.audit.service import Access, AccessAction
from switchboard_router.fields import MAX_ITEM_ID
from switchboard_router.http import call, errors, invalid, public
from switchboard_router.items import service, steps, stream
from switchboard_router.items.schemas import (
    AuditPublic,
    FeedbackCreate,
    FeedbackPublic,
    ItemDetail,
    ItemPage,
    ItemPublic,
    NoteCreate,
    NotePublic,
    Resolve,
    Transfer,
    decode_cursor,
    encode_cursor,
)
from switchboard_router.items.status import ACTIVE, ItemStatus
from switchboard_router.people.deps import (
    ActingBy,
    CurrentCaller,
    EngineDep,
    ItemPath,
    QueuePath,
    acting,
    audit_read,
    bearer,
    require_readable_queue,
)
from switchboard_router.people.security import Principal
from switchboard_router.people.service import authenticate

router = APIRouter()
T = TypeVar("T")


# Which access action each work step is. Heartbeats are left out: they come every
# few seconds per claim, and the item's own audit trail has each one.
_STEP_ACTIONS: dict[Callable[..., Any], AccessAction | None] = {
    service.claim: AccessAction.ITEM_CLAIMED,
    service.heartbeat: None,
    service.acknowledge: AccessAction.ITEM_ACKNOWLEDGED,
    service.release: AccessAction.ITEM_RELEASED,
    service.transfer: AccessAction.ITEM_TRANSFERRED,
    service.resolve: AccessAction.ITEM_RESOLVED,
    service.add_note: AccessAction.ITEM_NOTE_ADDED,
    service.feedback: AccessAction.ITEM_FEEDBACK,
}


class ItemWork:
    """What a work step takes from its request: the caller, the engine, and the app's
    lease length, policy in force and relay."""

    def __init__(self, request: Request, caller: CurrentCaller, engine: EngineDep) -> None:
        self.request, self.caller, self.engine = request, caller, engine

    async def act(self, fn: Callable[..., T], item_id: int, **kwargs: Any) -> T:
        """Run a work step, then wake the relay to publish its outbox events now."""
        engine = self.engine
        action = _STEP_ACTIONS.get(fn, AccessAction.ITEM_STEP)
        if action is not None:
            # The step's access row (token, client address) commits with the step itself.
            by = acting(self.request, self.caller)
            details = {"step": getattr(fn, "__name__", "step")}
            entry = access.Access(by, action, obj=f"item:{item_id}", details=details)
            engine = cast(Engine, access.RecordingEngine(engine, entry))
        result = await call(fn, engine, item_id=item_id, actor=self.caller, **kwargs)
        self.request.app.state.relay.wake()
        return result

    async def step(
        self, fn: Callable[..., dict[str, Any]], item_id: int, **fields: Any
    ) -> ItemPublic:
        """A step that changes the item's state, taken now under the policy in force."""
        state = self.request.app.state
        context = steps.StepContext(
            now=datetime.now(UTC),
            lease_seconds=state.settings.router_lease_seconds,
            policy=state.policies.current(),
        )
        return ItemPublic.of(await self.act(fn, item_id, context=context, **fields))


Work = Annotated[ItemWork, Depends()]
# What a step on an item may answer besides its own refusals.
STEP_ERRORS = errors(403, 404, 409)


@router.get(
    "/v1/queues/{queue_id}/items",
    summary="Items of a queue, highest priority then oldest first",
    responses=errors(404),
)
async def get_queue_items(
    queue_id: QueuePath,
    caller: CurrentCaller,
    by: ActingBy,
    engine: EngineDep,
    limit: Annotated[int, Query(ge=1, le=200, description="Items per page.")] = 50,
    cursor: Annotated[
        str | None, Query(max_length=512, description="`next_cursor` of the previous page.")
    ] = None,
    status: Annotated[
        Literal["active", "open", "claimed", "acknowledged", "resolved", "all"],
        Query(description="`active` (default): everything not resolved."),
    ] = "active",
) -> ItemPage:
    """A page of a queue's items (and items copied to it as a watch queue)."""
    after = None
    if cursor is not None:
        try:
            after = decode_cursor(cursor)
        except ValueError as exc:
            raise invalid("query.cursor", str(exc)) from exc
    await require_readable_queue(caller, engine, queue_id)
    statuses: tuple[ItemStatus, ...] | None = (
        ACTIVE if status == "active" else None if status == "all" else (ItemStatus(status),)
    )
    rows = await call(
        service.list_items,
        engine,
        queue_id=queue_id,
        limit=limit + 1,
        after=after,
        statuses=statuses,
    )
    page, more = rows[:limit], len(rows) > limit
    shown = {"status": status, "items": [r["id"] for r in page]}
    await audit_read(engine, Access(by, AccessAction.QUEUE_ITEMS_READ, f"queue:{queue_id}", shown))
    return ItemPage(
        queue_id=queue_id,
        items=[ItemPublic.of(row) for row in page],
        next_cursor=encode_cursor(page[-1]) if more else None,
    )


@router.get(
    "/v1/items/{item_id}",
    summary="An item with its reasons, rule, notes and audit trail",
    responses=errors(404),
)
async def get_item(
    item_id: ItemPath, caller: CurrentCaller, by: ActingBy, engine: EngineDep
) -> ItemDetail:
    """Everything about one item you may see."""
    row = await call(service.detail, engine, item_id=item_id, actor=caller)
    await audit_read(engine, Access(by, AccessAction.ITEM_READ, f"item:{item_id}"))
    base = ItemPublic.of(row).model_dump()
    return ItemDetail(
        **base,
        mention=row["mention"],
        watch_queues=row["watch_queues"],
        notes=[public(NotePublic, n, "note_id") for n in row["notes"]],
        audit=[public(AuditPublic, a, "audit_id") for a in row["audit"]],
    )


@router.post("/v1/items/{item_id}/claim", summary="Claim an open item", responses=STEP_ERRORS)
async def claim_item(item_id: ItemPath, work: Work) -> ItemPublic:
    """Take the item; of several concurrent claims exactly one wins (409 for the rest)."""
    return await work.step(service.claim, item_id)


@router.post(
    "/v1/items/{item_id}/heartbeat", summary="Extend your claim's lease", responses=STEP_ERRORS
)
async def heartbeat_item(item_id: ItemPath, work: Work) -> ItemPublic:
    """Keep a claim you are still working on from expiring."""
    return await work.step(service.heartbeat, item_id)


@router.post("/v1/items/{item_id}/ack", summary="Acknowledge your claim", responses=STEP_ERRORS)
async def ack_item(item_id: ItemPath, work: Work) -> ItemPublic:
    """Confirm you are on it: the lease and the SLA clock stop."""
    return await work.step(service.acknowledge, item_id)


@router.post(
    "/v1/items/{item_id}/release", summary="Give an item back to the pool", responses=STEP_ERRORS
)
async def release_item(item_id: ItemPath, work: Work) -> ItemPublic:
    """The holder (or a supervisor) returns the item to its queue."""
    return await work.step(service.release, item_id)


@router.post(
    "/v1/items/{item_id}/transfer",
    summary="Move an item to another queue or officer",
    responses=STEP_ERRORS,
)
async def transfer_item(item_id: ItemPath, body: Transfer, work: Work) -> ItemPublic:
    """To a queue's pool, or straight to an officer (supervisors), or both."""
    if body.queue_id is None and body.officer_id is None:
        raise invalid("body.queue_id", "give queue_id, officer_id or both")
    return await work.step(service.transfer, item_id, **body.model_dump())


@router.post(
    "/v1/items/{item_id}/resolve",
    summary="Resolve an item with a disposition",
    responses=STEP_ERRORS,
)
async def resolve_item(item_id: ItemPath, body: Resolve, work: Work) -> ItemPublic:
    """Close the item: actioned, referred, duplicate, no_action or false_alarm."""
    return await work.step(service.resolve, item_id, **body.model_dump())


@router.post(
    "/v1/items/{item_id}/notes",
    status_code=201,
    summary="Add a note to an item",
    responses=errors(403, 404),
)
async def add_note(item_id: ItemPath, body: NoteCreate, work: Work) -> NotePublic:
    """A note in the item's record (and an audit entry)."""
    note = await work.act(service.add_note, item_id, now=datetime.now(UTC), text=body.text)
    return NotePublic(**note)


@router.post(
    "/v1/items/{item_id}/feedback",
    status_code=202,
    summary="Correct the classification (published for the classifier)",
    responses=errors(403, 404),
)
async def give_feedback(item_id: ItemPath, body: FeedbackCreate, work: Work) -> FeedbackPublic:
    """Say what the urgency or topics should have been; goes to `mentions.feedback.v1`."""
    if body.urgency is None and body.topics is None and body.comment is None:
        raise invalid("body.urgency", "give urgency, topics or comment")
    event = await work.act(
        service.feedback,
        item_id,
        now=datetime.now(UTC),
        urgency=body.urgency,
        topics=tuple(body.topics) if body.topics is not None else None,
        comment=body.comment,
    )
    return FeedbackPublic(
        event_id=event.event_id,
        mention_id=event.mention_id,
        item_id=event.item_id,
        urgency=event.urgency,
        topics=list(event.topics) if event.topics is not None else None,
        comment=event.comment,
    )


@router.get(
    "/v1/stream",
    summary="Server-sent events of item changes in your queues",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"text/event-stream": {}}, "description": "An endless event stream"},
        **errors(),
    },
)
async def item_stream(
    request: Request,
    caller: CurrentCaller,
    by: ActingBy,
    engine: EngineDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    last_event_id: Annotated[str | None, Header(max_length=32)] = None,
) -> StreamingResponse:
    """Each change is `id: <audit id>`, `event: <action>`, `data: {...}`; reconnect with `Last-Event-ID`."""
    resume = None
    if last_event_id is not None:
        try:
            resume = max(0, min(int(last_event_id), MAX_ITEM_ID))
        except ValueError as exc:
            raise invalid("header.last-event-id", "an audit id is required") from exc
    token = credentials.credentials if credentials is not None else ""

    async def reauthenticate() -> Principal | None:
        # The same check as every request's, repeated before each poll of a long-lived stream.
        return await asyncio.to_thread(authenticate, engine, token=token)

    settings = request.app.state.settings
    opened = {"last_event_id": resume, "queues": sorted(caller.queues)}
    await audit_read(engine, Access(by, AccessAction.STREAM_OPENED, details=opened))
    body = stream.events(
        engine,
        actor=caller,
        reauthenticate=reauthenticate,
        last_event_id=resume,
        replay_max=settings.router_stream_replay_max,
        poll_seconds=settings.router_stream_poll_seconds,
        disconnected=request.is_disconnected,
    )
    return StreamingResponse(
        body,
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
