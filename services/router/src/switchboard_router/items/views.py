"""The router's HTTP API: queues, items and the work on them, officers and
memberships for admins, routing explanations, the change stream and health (/metrics is the
app's: `app.py` and `gauges.py`).

Views are thin: authenticate (`CurrentCaller`), call `work` / `people` /
`store` in a thread, shape the answer. Every error is an RFC 9457 problem
document naming the field; anything the caller may not read is a 404.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal, TypeVar, cast

from fastapi import APIRouter, Depends, Header, Path, Query, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from switchboard_router.audit import service as access
from switchboard_router.audit.service import AccessAction, By
from switchboard_router.db.engine import aware, ping
from switchboard_router.items import service as store
from switchboard_router.items import steps as work
from switchboard_router.items import stream
from switchboard_router.items.schemas import (
    MAX_ITEM_ID,
    OFFICER_ID_PATTERN,
    QUEUE_ID_PATTERN,
    AccessEntryPublic,
    AccessPage,
    AuditPublic,
    ExplainRequest,
    ExplainStep,
    Explanation,
    FeedbackCreate,
    FeedbackPublic,
    ItemDetail,
    ItemPage,
    ItemPublic,
    MemberAdd,
    MemberList,
    MemberPublic,
    NoteCreate,
    NotePublic,
    OfficerCreate,
    OfficerList,
    OfficerPublic,
    OfficerUpdate,
    PolicyPublic,
    Problem,
    QueueCreate,
    QueueList,
    QueuePublic,
    QueueUpdate,
    Resolve,
    Shift,
    TokenCreate,
    TokenIssued,
    Transfer,
)
from switchboard_router.kafka.consumer import RouterConsumer
from switchboard_router.people import service as people
from switchboard_router.people.security import Principal, Role
from switchboard_router.routing.assignment import AssignmentMode
from switchboard_router.routing.holder import PolicyHolder

router = APIRouter()
T = TypeVar("T")


class ApiProblem(Exception):
    """An error answer: status, problem kind, title, detail and the field at fault."""

    def __init__(
        self,
        status: int,
        kind: str,
        title: str,
        detail: str,
        *,
        field: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status, self.kind, self.title, self.detail = status, kind, title, detail
        self.field, self.headers = field, headers


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the problem answers a route gives."""
    text = {
        401: "No valid bearer token",
        403: "Not allowed for this role",
        404: "No such thing (or not one you may see)",
        409: "The item's state does not allow this",
        413: "Body too large",
        422: "Invalid request; `errors` names each field",
    }
    return {code: {"model": Problem, "description": text[code]} for code in (401, 413, 422, *codes)}


def get_engine(request: Request) -> Engine:
    """The app's database engine."""
    engine: Engine = request.app.state.engine
    return engine


def get_policies(request: Request) -> PolicyHolder:
    """The routing policy holder."""
    holder: PolicyHolder = request.app.state.policies
    return holder


EngineDep = Annotated[Engine, Depends(get_engine)]
PoliciesDep = Annotated[PolicyHolder, Depends(get_policies)]
bearer = HTTPBearer(auto_error=False, description="An officer's or service's token.")


async def current_caller(
    engine: EngineDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    """The authenticated caller; 401 without a valid, unrevoked token."""
    challenge = {"WWW-Authenticate": 'Bearer realm="switchboard-router"'}
    if credentials is None or not credentials.credentials:
        raise ApiProblem(
            401, "unauthorized", "Unauthorized", "a bearer token is required", headers=challenge
        )
    if len(credentials.credentials) > 512:
        principal = None
    else:
        principal = await asyncio.to_thread(
            people.authenticate, engine, token=credentials.credentials
        )
    if principal is None:
        raise ApiProblem(
            401,
            "unauthorized",
            "Unauthorized",
            "unknown, revoked or expired token",
            headers=challenge,
        )
    return principal


CurrentCaller = Annotated[Principal, Depends(current_caller)]


def acting(request: Request, caller: CurrentCaller) -> By:
    """Who is acting, for the access audit: officer, token and client address."""
    # The router has no trusted-proxy setting, so the peer address is the client's.
    return By.of(caller, request.client.host if request.client else None)


ActingBy = Annotated[By, Depends(acting)]


async def _audit_read(
    engine: Engine,
    by: By,
    action: AccessAction,
    obj: str | None,
    details: dict[str, Any] | None = None,
) -> None:
    """Record a read before its answer leaves: no data goes out unrecorded."""
    await asyncio.to_thread(
        access.record_read, engine, by, action, obj=obj, now=datetime.now(UTC), details=details
    )


def require_admin(caller: Principal) -> None:
    """403 unless the caller is an admin."""
    if caller.role is not Role.ADMIN:
        raise ApiProblem(403, "forbidden", "Forbidden", "only admins may do this")


QueuePath = Annotated[str, Path(pattern=QUEUE_ID_PATTERN, description="Queue id.")]
OfficerPath = Annotated[str, Path(pattern=OFFICER_ID_PATTERN, description="Officer id.")]
ItemPath = Annotated[int, Path(ge=1, le=MAX_ITEM_ID, description="Item id.")]


async def _call(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a store call in a thread, turning its refusals into problem answers."""
    try:
        return await asyncio.to_thread(fn, *args, **kwargs)
    except work.WorkError as exc:
        raise ApiProblem(
            exc.status, exc.kind, type(exc).__name__, exc.detail, field=exc.field
        ) from exc
    except people.Missing as exc:
        raise ApiProblem(404, "not-found", "Not found", str(exc)) from exc
    except people.Exists as exc:
        raise ApiProblem(409, "conflict", "Conflict", str(exc)) from exc


# Which access action each work step is. Heartbeats are left out: they come every
# few seconds per claim, and the item's own audit trail has each one.
_STEP_ACTIONS: dict[Callable[..., Any], AccessAction | None] = {
    work.claim: AccessAction.ITEM_CLAIMED,
    work.heartbeat: None,
    work.acknowledge: AccessAction.ITEM_ACKNOWLEDGED,
    work.release: AccessAction.ITEM_RELEASED,
    work.transfer: AccessAction.ITEM_TRANSFERRED,
    work.resolve: AccessAction.ITEM_RESOLVED,
    work.add_note: AccessAction.ITEM_NOTE_ADDED,
    work.feedback: AccessAction.ITEM_FEEDBACK,
}


async def _act(request: Request, fn: Callable[..., T], engine: Engine, **kwargs: Any) -> T:
    """A work step: run it, then wake the relay to publish its outbox events now."""
    action = _STEP_ACTIONS.get(fn, AccessAction.ITEM_STEP)
    if action is not None:
        # The step's access row (token, client address) commits with the step itself.
        engine = cast(
            Engine,
            access.RecordingEngine(
                engine,
                acting(request, kwargs["actor"]),
                action,
                obj=f"item:{kwargs['item_id']}",
                details={"step": getattr(fn, "__name__", "step")},
            ),
        )
    result = await _call(fn, engine, **kwargs)
    request.app.state.relay.wake()
    return result


def _clock(request: Request) -> work.Clock:
    return work.Clock(
        now=datetime.now(UTC),
        lease_seconds=request.app.state.settings.router_lease_seconds,
        policy=request.app.state.policies.current(),
    )


def _encode_cursor(row: dict[str, Any]) -> str:
    key = [row["priority_rank"], aware(row["received_at"]).isoformat(), row["id"]]  # type: ignore[union-attr]
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode()


def _decode_cursor(cursor: str) -> tuple[int, datetime, int]:
    try:
        rank, received, item_id = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        when = datetime.fromisoformat(received)
        when = when.astimezone(UTC) if when.tzinfo else when.replace(tzinfo=UTC)
        rank, item_id = int(rank), int(item_id)
        if not (-(2**15) < rank < 2**15 and 0 <= item_id <= MAX_ITEM_ID):
            raise ValueError("out of range")
        return rank, when, item_id
    except (binascii.Error, ValueError, TypeError, OverflowError, UnicodeError) as exc:
        raise ValueError("not a cursor this API issued") from exc


def _queue_public(policy: Any, q: dict[str, Any]) -> QueuePublic:
    settings = policy.queue_settings(q["queue_id"])
    return QueuePublic(
        **{k: v for k, v in q.items() if k not in ("assignment_mode", "supervisor_queue")},
        assignment_mode=AssignmentMode(q["assignment_mode"] or settings.assignment),
        supervisor_queue=q["supervisor_queue"] or settings.supervisor_queue,
    )


# Queues ---------------------------------------------------------------------------------------


@router.get(
    "/v1/queues", response_model=QueueList, summary="Queues you may see", responses=errors()
)
async def get_queues(caller: CurrentCaller, engine: EngineDep, policies: PoliciesDep) -> QueueList:
    """Your queues (every queue for admins and services) with depth and oldest open item."""
    only = None if caller.sees_everything else caller.queues
    rows = await _call(store.list_queues, engine, only=only)
    return QueueList(queues=[_queue_public(policies.current(), q) for q in rows])


@router.post(
    "/v1/queues",
    response_model=QueuePublic,
    status_code=201,
    summary="Create a queue (admin)",
    responses=errors(403, 409),
)
async def create_queue(
    body: QueueCreate, caller: CurrentCaller, by: ActingBy, engine: EngineDep, policies: PoliciesDep
) -> QueuePublic:
    """A new queue; settings left unset follow the routing policy."""
    require_admin(caller)
    await _call(
        people.create_queue,
        engine,
        queue_id=body.queue_id,
        assignment_mode=body.assignment_mode.value if body.assignment_mode else None,
        supervisor_queue=body.supervisor_queue,
        now=datetime.now(UTC),
        by=by,
    )
    [row] = await _call(store.list_queues, engine, only=frozenset({body.queue_id}))
    return _queue_public(policies.current(), row)


@router.patch(
    "/v1/queues/{queue_id}",
    response_model=QueuePublic,
    summary="Change a queue's settings (admin)",
    responses=errors(403, 404),
)
async def update_queue(
    queue_id: QueuePath,
    body: QueueUpdate,
    caller: CurrentCaller,
    by: ActingBy,
    engine: EngineDep,
    policies: PoliciesDep,
) -> QueuePublic:
    """Set the assignment mode or supervisor queue; `null` returns it to the policy's."""
    require_admin(caller)
    changes = body.model_dump(exclude_unset=True, mode="json")
    await _call(
        people.update_queue,
        engine,
        queue_id=queue_id,
        changes=changes,
        now=datetime.now(UTC),
        by=by,
    )
    [row] = await _call(store.list_queues, engine, only=frozenset({queue_id}))
    return _queue_public(policies.current(), row)


@router.get(
    "/v1/queues/{queue_id}/items",
    response_model=ItemPage,
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
            after = _decode_cursor(cursor)
        except ValueError as exc:
            raise ApiProblem(
                422,
                "invalid-request",
                "Invalid request",
                f"query.cursor: {exc}",
                field="query.cursor",
            ) from exc
    if not caller.can_read(queue_id) or not await _call(
        store.queue_exists, engine, queue_id=queue_id
    ):
        raise ApiProblem(404, "not-found", "No such queue", f"queue {queue_id!r} does not exist")
    statuses = {
        "active": ("open", "claimed", "acknowledged"),
        "all": None,
    }.get(status, (status,))
    rows = await _call(
        store.list_items, engine, queue_id=queue_id, limit=limit + 1, after=after, statuses=statuses
    )
    page, more = rows[:limit], len(rows) > limit
    await _audit_read(
        engine,
        by,
        AccessAction.QUEUE_ITEMS_READ,
        f"queue:{queue_id}",
        {"status": status, "items": [r["id"] for r in page]},
    )
    return ItemPage(
        queue_id=queue_id,
        items=[ItemPublic.of(row) for row in page],
        next_cursor=_encode_cursor(page[-1]) if more else None,
    )


@router.get(
    "/v1/queues/{queue_id}/members",
    response_model=MemberList,
    summary="Members of a queue (admins, and supervisors of the queue)",
    responses=errors(403, 404),
)
async def get_members(
    queue_id: QueuePath, caller: CurrentCaller, by: ActingBy, engine: EngineDep
) -> MemberList:
    """Who works the queue, on duty or not."""
    if not caller.can_read(queue_id) or not await _call(
        store.queue_exists, engine, queue_id=queue_id
    ):
        raise ApiProblem(404, "not-found", "No such queue", f"queue {queue_id!r} does not exist")
    if not caller.is_supervisor and caller.role is not Role.SERVICE:
        raise ApiProblem(403, "forbidden", "Forbidden", "only supervisors and admins list members")
    rows = await _call(people.list_members, engine, queue_id=queue_id)
    await _audit_read(engine, by, AccessAction.MEMBERS_READ, f"queue:{queue_id}")
    return MemberList(
        queue_id=queue_id,
        members=[
            MemberPublic(officer_id=r["id"], **{k: v for k, v in r.items() if k != "id"})
            for r in rows
        ],
    )


@router.post(
    "/v1/queues/{queue_id}/members",
    response_model=MemberList,
    status_code=201,
    summary="Put an officer in a queue (admin)",
    responses=errors(403, 404),
)
async def add_member(
    queue_id: QueuePath, body: MemberAdd, caller: CurrentCaller, by: ActingBy, engine: EngineDep
) -> MemberList:
    """Add a member (idempotent); returns the queue's members."""
    require_admin(caller)
    await _call(
        people.add_member,
        engine,
        queue_id=queue_id,
        officer_id=body.officer_id,
        now=datetime.now(UTC),
        by=by,
    )
    rows = await _call(people.list_members, engine, queue_id=queue_id)
    return MemberList(
        queue_id=queue_id,
        members=[
            MemberPublic(officer_id=r["id"], **{k: v for k, v in r.items() if k != "id"})
            for r in rows
        ],
    )


@router.delete(
    "/v1/queues/{queue_id}/members/{officer_id}",
    status_code=204,
    summary="Take an officer out of a queue (admin)",
    responses=errors(403, 404),
)
async def remove_member(
    queue_id: QueuePath,
    officer_id: OfficerPath,
    caller: CurrentCaller,
    by: ActingBy,
    engine: EngineDep,
) -> Response:
    """Remove a member."""
    require_admin(caller)
    await _call(
        people.remove_member,
        engine,
        queue_id=queue_id,
        officer_id=officer_id,
        now=datetime.now(UTC),
        by=by,
    )
    return Response(status_code=204)


# Officers -------------------------------------------------------------------------------------


def _officer_public(row: dict[str, Any]) -> OfficerPublic:
    return OfficerPublic(officer_id=row["id"], **{k: v for k, v in row.items() if k != "id"})


@router.get("/v1/me", response_model=OfficerPublic, summary="Who you are", responses=errors())
async def me(caller: CurrentCaller, engine: EngineDep) -> OfficerPublic:
    """The caller's officer record and queues."""
    return _officer_public(await _call(people.get_officer, engine, officer_id=caller.officer_id))


@router.post(
    "/v1/officers",
    response_model=OfficerPublic,
    status_code=201,
    summary="Create an officer or service account (admin)",
    responses=errors(403),
)
async def create_officer(
    body: OfficerCreate, caller: CurrentCaller, by: ActingBy, engine: EngineDep
) -> OfficerPublic:
    """A new officer with a generated `officer_id`; give them a token next."""
    require_admin(caller)
    row = await _call(
        people.create_officer,
        engine,
        name=body.name,
        role=body.role,
        capacity=body.capacity,
        on_duty=body.on_duty,
        now=datetime.now(UTC),
        by=by,
    )
    return _officer_public(row)


@router.get(
    "/v1/officers",
    response_model=OfficerList,
    summary="Every officer (admin)",
    responses=errors(403),
)
async def list_officers(caller: CurrentCaller, by: ActingBy, engine: EngineDep) -> OfficerList:
    """Every officer with their queues."""
    require_admin(caller)
    rows = await _call(people.list_officers, engine)
    await _audit_read(engine, by, AccessAction.OFFICERS_READ, None)
    return OfficerList(officers=[_officer_public(r) for r in rows])


@router.get(
    "/v1/officers/{officer_id}",
    response_model=OfficerPublic,
    summary="One officer (admin, or yourself)",
    responses=errors(404),
)
async def get_officer(
    officer_id: OfficerPath, caller: CurrentCaller, by: ActingBy, engine: EngineDep
) -> OfficerPublic:
    """An officer's record and queues."""
    if caller.role is not Role.ADMIN and officer_id != caller.officer_id:
        raise ApiProblem(404, "not-found", "Not found", f"officer {officer_id!r} does not exist")
    row = await _call(people.get_officer, engine, officer_id=officer_id)
    await _audit_read(engine, by, AccessAction.OFFICER_READ, f"officer:{officer_id}")
    return _officer_public(row)


@router.patch(
    "/v1/officers/{officer_id}",
    response_model=OfficerPublic,
    summary="Change an officer (admin)",
    responses=errors(403, 404),
)
async def update_officer(
    officer_id: OfficerPath,
    body: OfficerUpdate,
    caller: CurrentCaller,
    by: ActingBy,
    engine: EngineDep,
) -> OfficerPublic:
    """Change name, role, capacity or duty."""
    require_admin(caller)
    changes = {k: v for k, v in body.model_dump(exclude_unset=True).items() if v is not None}
    return _officer_public(
        await _call(
            people.update_officer,
            engine,
            officer_id=officer_id,
            changes=changes,
            now=datetime.now(UTC),
            by=by,
        )
    )


@router.post(
    "/v1/officers/{officer_id}/shift",
    response_model=OfficerPublic,
    summary="Go on or off duty (yourself, or an admin for anyone)",
    responses=errors(404),
)
async def shift(
    officer_id: OfficerPath, body: Shift, caller: CurrentCaller, by: ActingBy, engine: EngineDep
) -> OfficerPublic:
    """Start or end a shift: only on-duty officers are assigned items."""
    if caller.role is not Role.ADMIN and officer_id != caller.officer_id:
        raise ApiProblem(404, "not-found", "Not found", f"officer {officer_id!r} does not exist")
    return _officer_public(
        await _call(
            people.update_officer,
            engine,
            officer_id=officer_id,
            changes={"on_duty": body.on_duty},
            now=datetime.now(UTC),
            by=by,
            action=AccessAction.SHIFT_CHANGED,
        )
    )


@router.post(
    "/v1/officers/{officer_id}/tokens",
    response_model=TokenIssued,
    status_code=201,
    summary="Issue a bearer token (admin); shown once",
    responses=errors(403, 404),
)
async def issue_token(
    officer_id: OfficerPath,
    request: Request,
    caller: CurrentCaller,
    by: ActingBy,
    engine: EngineDep,
    body: TokenCreate | None = None,
) -> TokenIssued:
    """A new token for the officer, expiring after `lifetime_seconds` (at most, and by
    default, the router's token lifetime). Only its hash is kept: store it now."""
    require_admin(caller)
    longest = request.app.state.settings.router_token_lifetime_seconds
    lifetime = longest if body is None or body.lifetime_seconds is None else body.lifetime_seconds
    if lifetime > longest:
        raise ApiProblem(
            422,
            "invalid-request",
            "Invalid request",
            f"body.lifetime_seconds: at most {longest} (SWITCHBOARD_ROUTER_TOKEN_LIFETIME_SECONDS)",
            field="body.lifetime_seconds",
        )
    token_id, token, expires_at = await _call(
        people.issue_token,
        engine,
        officer_id=officer_id,
        now=datetime.now(UTC),
        lifetime=timedelta(seconds=lifetime),
        by=by,
    )
    return TokenIssued(token_id=token_id, officer_id=officer_id, token=token, expires_at=expires_at)


@router.delete(
    "/v1/officers/{officer_id}/tokens/{token_id}",
    status_code=204,
    summary="Revoke a token (admin)",
    responses=errors(403, 404),
)
async def revoke_token(
    officer_id: OfficerPath,
    token_id: Annotated[str, Path(pattern=OFFICER_ID_PATTERN)],
    caller: CurrentCaller,
    by: ActingBy,
    engine: EngineDep,
) -> Response:
    """The token stops working at once."""
    require_admin(caller)
    await _call(
        people.revoke_token,
        engine,
        officer_id=officer_id,
        token_id=token_id,
        now=datetime.now(UTC),
        by=by,
    )
    return Response(status_code=204)


# Items ----------------------------------------------------------------------------------------


@router.get(
    "/v1/items/{item_id}",
    response_model=ItemDetail,
    summary="An item with its reasons, rule, notes and audit trail",
    responses=errors(404),
)
async def get_item(
    item_id: ItemPath, caller: CurrentCaller, by: ActingBy, engine: EngineDep
) -> ItemDetail:
    """Everything about one item you may see."""
    row = await _call(work.detail, engine, item_id=item_id, actor=caller)
    await _audit_read(engine, by, AccessAction.ITEM_READ, f"item:{item_id}")
    base = ItemPublic.of(row).model_dump()
    return ItemDetail(
        **base,
        mention=row["mention"],
        watch_queues=row["watch_queues"],
        notes=[
            NotePublic(note_id=n["id"], **{k: v for k, v in n.items() if k != "id"})
            for n in row["notes"]
        ],
        audit=[
            AuditPublic(
                audit_id=a["id"],
                at=a["at"],
                actor=a["actor"],
                action=a["action"],
                queue_id=a["queue_id"],
                details=a["details"],
            )
            for a in row["audit"]
        ],
    )


def _step(name: str, fn: Callable[..., dict[str, Any]], summary: str, doc: str) -> None:
    async def view(
        item_id: ItemPath, request: Request, caller: CurrentCaller, engine: EngineDep
    ) -> ItemPublic:
        row = await _act(request, fn, engine, item_id=item_id, actor=caller, clock=_clock(request))
        return ItemPublic.of(row)

    view.__doc__ = doc
    view.__name__ = f"{name}_item"
    router.add_api_route(
        f"/v1/items/{{item_id}}/{name}",
        view,
        methods=["POST"],
        response_model=ItemPublic,
        summary=summary,
        responses=errors(403, 404, 409),
    )


_step(
    "claim",
    work.claim,
    "Claim an open item",
    "Take the item; of several concurrent claims exactly one wins (409 for the rest).",
)
_step(
    "heartbeat",
    work.heartbeat,
    "Extend your claim's lease",
    "Keep a claim you are still working on from expiring.",
)
_step(
    "ack",
    work.acknowledge,
    "Acknowledge your claim",
    "Confirm you are on it: the lease and the SLA clock stop.",
)
_step(
    "release",
    work.release,
    "Give an item back to the pool",
    "The holder (or a supervisor) returns the item to its queue.",
)


@router.post(
    "/v1/items/{item_id}/transfer",
    response_model=ItemPublic,
    summary="Move an item to another queue or officer",
    responses=errors(403, 404, 409),
)
async def transfer_item(
    item_id: ItemPath, body: Transfer, request: Request, caller: CurrentCaller, engine: EngineDep
) -> ItemPublic:
    """To a queue's pool, or straight to an officer (supervisors), or both."""
    if body.queue_id is None and body.officer_id is None:
        raise ApiProblem(
            422,
            "invalid-request",
            "Invalid request",
            "body.queue_id: give queue_id, officer_id or both",
            field="body.queue_id",
        )
    row = await _act(
        request,
        work.transfer,
        engine,
        item_id=item_id,
        actor=caller,
        clock=_clock(request),
        queue_id=body.queue_id,
        officer_id=body.officer_id,
        reason=body.reason,
    )
    return ItemPublic.of(row)


@router.post(
    "/v1/items/{item_id}/resolve",
    response_model=ItemPublic,
    summary="Resolve an item with a disposition",
    responses=errors(403, 404, 409),
)
async def resolve_item(
    item_id: ItemPath, body: Resolve, request: Request, caller: CurrentCaller, engine: EngineDep
) -> ItemPublic:
    """Close the item: actioned, referred, duplicate, no_action or false_alarm."""
    row = await _act(
        request,
        work.resolve,
        engine,
        item_id=item_id,
        actor=caller,
        clock=_clock(request),
        disposition=body.disposition,
        note=body.note,
    )
    return ItemPublic.of(row)


@router.post(
    "/v1/items/{item_id}/notes",
    response_model=NotePublic,
    status_code=201,
    summary="Add a note to an item",
    responses=errors(403, 404),
)
async def add_note(
    item_id: ItemPath, body: NoteCreate, request: Request, caller: CurrentCaller, engine: EngineDep
) -> NotePublic:
    """A note in the item's record (and an audit entry)."""
    note = await _act(
        request,
        work.add_note,
        engine,
        item_id=item_id,
        actor=caller,
        now=datetime.now(UTC),
        text=body.text,
    )
    return NotePublic(**note)


@router.post(
    "/v1/items/{item_id}/feedback",
    response_model=FeedbackPublic,
    status_code=202,
    summary="Correct the classification (published for the classifier)",
    responses=errors(403, 404),
)
async def give_feedback(
    item_id: ItemPath,
    body: FeedbackCreate,
    request: Request,
    caller: CurrentCaller,
    engine: EngineDep,
) -> FeedbackPublic:
    """Say what the urgency or topics should have been; goes to `mentions.feedback.v1`."""
    if body.urgency is None and body.topics is None and body.comment is None:
        raise ApiProblem(
            422,
            "invalid-request",
            "Invalid request",
            "body.urgency: give urgency, topics or comment",
            field="body.urgency",
        )
    event = await _act(
        request,
        work.feedback,
        engine,
        item_id=item_id,
        actor=caller,
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


# Routing --------------------------------------------------------------------------------------


@router.post(
    "/v1/routing/explain",
    response_model=Explanation,
    summary="Where a mention would go, and why",
    responses=errors(),
)
async def explain(
    body: ExplainRequest, caller: CurrentCaller, policies: PoliciesDep
) -> Explanation:
    """Route a mention through the policy in force without storing anything."""
    policy = policies.current()
    decision = policy.explain(body.mention, body.classification)
    settings = policy.queue_settings(decision.queue_id)
    sla = policy.sla_for(decision.queue_id, body.classification.urgency)
    return Explanation(
        policy_version=policy.version,
        queue_id=decision.queue_id,
        rule=decision.rule,
        priority_boost=decision.priority_boost,
        watch_queues=list(decision.watch_queues),
        tagged_by=list(decision.tagged_by),
        assignment_mode=settings.assignment,
        supervisor_queue=settings.supervisor_queue,
        sla=sla.name if sla else None,
        claim_seconds=sla.claim_seconds if sla else None,
        ack_seconds=sla.ack_seconds if sla else None,
        trace=[
            ExplainStep(rule=s.rule, outcome=s.outcome, reason=s.reason) for s in decision.trace
        ],  # type: ignore[arg-type]
    )


@router.get(
    "/v1/routing",
    response_model=PolicyPublic,
    summary="The routing policy in force",
    responses=errors(),
)
async def get_policy(caller: CurrentCaller, policies: PoliciesDep) -> PolicyPublic:
    """Its version, default queue, rule names and where it was loaded from."""
    policy = policies.current()
    return PolicyPublic(
        version=policy.version,
        default_queue=policy.default_queue,
        rules=[r.name for r in policy.rules],
        source=str(policies.path) if policies.path else "shipped",
    )


# Stream ---------------------------------------------------------------------------------------


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
            raise ApiProblem(
                422,
                "invalid-request",
                "Invalid request",
                "header.last-event-id: an audit id is required",
                field="header.last-event-id",
            ) from exc
    token = credentials.credentials if credentials is not None else ""

    async def reauthenticate() -> Principal | None:
        # The same check as every request's, repeated before each poll of a long-lived stream.
        return await asyncio.to_thread(people.authenticate, engine, token=token)

    settings = request.app.state.settings
    await _audit_read(
        engine,
        by,
        AccessAction.STREAM_OPENED,
        None,
        {"last_event_id": resume, "queues": sorted(caller.queues)},
    )
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


# Access audit ---------------------------------------------------------------------------------


def _utc(value: datetime | None, field: str) -> datetime | None:
    if value is None:
        return None
    try:
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    except (OverflowError, ValueError) as exc:
        raise ApiProblem(
            422,
            "invalid-request",
            "Invalid request",
            f"query.{field}: not a time the audit can hold",
            field=f"query.{field}",
        ) from exc


@router.get(
    "/v1/audit/access",
    response_model=AccessPage,
    summary="Who read or changed what (admin)",
    responses=errors(403),
)
async def access_audit(
    caller: CurrentCaller,
    by: ActingBy,
    engine: EngineDep,
    principal: Annotated[
        str | None, Query(pattern=OFFICER_ID_PATTERN, description="Officer id of the actor.")
    ] = None,
    token: Annotated[
        str | None, Query(pattern=OFFICER_ID_PATTERN, description="Token id the actor used.")
    ] = None,
    action: Annotated[AccessAction | None, Query(description="What was done.")] = None,
    object: Annotated[
        str | None,
        Query(
            max_length=160,
            pattern=r"^[a-z]+:[A-Za-z0-9_.:-]{1,150}$",
            description="What it was done to: `item:42`, `queue:general`, `officer:off_...`, `token:tok_...`.",
        ),
    ] = None,
    since: Annotated[datetime | None, Query(description="From this time (inclusive).")] = None,
    until: Annotated[datetime | None, Query(description="Before this time.")] = None,
    before: Annotated[
        int | None, Query(ge=1, le=MAX_ITEM_ID, description="`next_before` of the previous page.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=access.MAX_PAGE, description="Rows per page.")] = 100,
) -> AccessPage:
    """The access audit, newest first. Reading it is itself recorded."""
    require_admin(caller)
    filters = access.Filters(
        principal=principal,
        token_id=token,
        action=action,
        obj=object,
        since=_utc(since, "since"),
        until=_utc(until, "until"),
        before_id=before,
        limit=limit + 1,
    )
    rows = await _call(access.entries, engine, filters)
    page, more = rows[:limit], len(rows) > limit
    await _audit_read(
        engine,
        by,
        AccessAction.AUDIT_READ,
        None,
        {k: v for k, v in vars(filters).items() if v is not None and k != "limit"},
    )
    return AccessPage(
        entries=[
            AccessEntryPublic(
                access_id=r["id"],
                at=r["at"],
                officer_id=r["officer_id"],
                token_id=r["token_id"],
                token_issued_by=r["token_issued_by"],
                action=AccessAction(r["action"]),
                object=r["object"],
                client=r["client"],
                details=r["details"],
            )
            for r in page
        ],
        next_before=page[-1]["id"] if more else None,
    )


# Health ---------------------------------------------------------------------------------------


@router.get("/healthz", summary="The process is alive")
async def healthz() -> dict[str, str]:
    """Liveness: the process answers."""
    return {"status": "ok", "service": "router"}


@router.get(
    "/readyz",
    summary="Kafka and the database work",
    responses={503: {"description": "Not ready; `problems` says why"}},
)
async def readyz(request: Request, engine: EngineDep) -> JSONResponse:
    """Readiness: the database answers and the consumer is connected to Kafka."""
    problems = []
    try:
        await asyncio.to_thread(ping, engine)
    except SQLAlchemyError as exc:
        problems.append(f"database unreachable: {type(exc).__name__}")
    consumer: RouterConsumer = request.app.state.consumer
    if not consumer.started.is_set() or consumer.producer is None:
        problems.append("kafka consumer not started")
    else:
        try:
            await asyncio.wait_for(consumer.producer.client.fetch_all_metadata(), 2.0)
        except Exception as exc:
            problems.append(f"kafka unreachable: {exc!r}")
    if problems:
        return JSONResponse({"status": "not ready", "problems": problems}, status_code=503)
    return JSONResponse({"status": "ready"})
