"""Officer routes: who you are, officers and service accounts (admin), shifts and tokens."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response

from switchboard_router.audit.service import Access, AccessAction
from switchboard_router.fields import OFFICER_ID_PATTERN
from switchboard_router.http import call, change, errors, invalid, public
from switchboard_router.people import service
from switchboard_router.people.deps import (
    ActingBy,
    AdminActing,
    CurrentCaller,
    EngineDep,
    OfficerPath,
    audit_read,
)
from switchboard_router.people.schemas import (
    OfficerCreate,
    OfficerList,
    OfficerPublic,
    OfficerUpdate,
    Shift,
    TokenCreate,
    TokenIssued,
)
from switchboard_router.people.security import Principal, Role
from switchboard_shared.problems import ProblemError

router = APIRouter()


def _officer_public(row: dict[str, Any]) -> OfficerPublic:
    return public(OfficerPublic, row, "officer_id")


def _admin_or_self(caller: Principal, officer_id: str) -> None:
    """404 unless the caller is an admin or that officer: others do not learn who exists."""
    if caller.role is not Role.ADMIN and officer_id != caller.officer_id:
        raise ProblemError(404, "not-found", "Not found", f"officer {officer_id!r} does not exist")


@router.get("/v1/me", summary="Who you are", responses=errors())
async def me(caller: CurrentCaller, engine: EngineDep) -> OfficerPublic:
    """The caller's officer record and queues."""
    return _officer_public(await call(service.get_officer, engine, officer_id=caller.officer_id))


@router.post(
    "/v1/officers",
    status_code=201,
    summary="Create an officer or service account (admin)",
    responses=errors(403),
)
async def create_officer(body: OfficerCreate, by: AdminActing, engine: EngineDep) -> OfficerPublic:
    """A new officer with a generated `officer_id`; give them a token next."""
    row = await change(
        service.create_officer,
        engine,
        by,
        name=body.name,
        role=body.role,
        capacity=body.capacity,
        on_duty=body.on_duty,
    )
    return _officer_public(row)


@router.get("/v1/officers", summary="Every officer (admin)", responses=errors(403))
async def list_officers(by: AdminActing, engine: EngineDep) -> OfficerList:
    """Every officer with their queues."""
    rows = await call(service.list_officers, engine)
    await audit_read(engine, Access(by, AccessAction.OFFICERS_READ))
    return OfficerList(officers=[_officer_public(r) for r in rows])


@router.get(
    "/v1/officers/{officer_id}", summary="One officer (admin, or yourself)", responses=errors(404)
)
async def get_officer(
    officer_id: OfficerPath, caller: CurrentCaller, by: ActingBy, engine: EngineDep
) -> OfficerPublic:
    """An officer's record and queues."""
    _admin_or_self(caller, officer_id)
    row = await call(service.get_officer, engine, officer_id=officer_id)
    await audit_read(engine, Access(by, AccessAction.OFFICER_READ, f"officer:{officer_id}"))
    return _officer_public(row)


@router.patch(
    "/v1/officers/{officer_id}", summary="Change an officer (admin)", responses=errors(403, 404)
)
async def update_officer(
    officer_id: OfficerPath,
    body: OfficerUpdate,
    by: AdminActing,
    engine: EngineDep,
) -> OfficerPublic:
    """Change name, role, capacity or duty."""
    changes = {k: v for k, v in body.model_dump(exclude_unset=True).items() if v is not None}
    return _officer_public(
        await change(service.update_officer, engine, by, officer_id=officer_id, changes=changes)
    )


@router.post(
    "/v1/officers/{officer_id}/shift",
    summary="Go on or off duty (yourself, or an admin for anyone)",
    responses=errors(404),
)
async def shift(
    officer_id: OfficerPath, body: Shift, caller: CurrentCaller, by: ActingBy, engine: EngineDep
) -> OfficerPublic:
    """Start or end a shift: only on-duty officers are assigned items."""
    _admin_or_self(caller, officer_id)
    return _officer_public(
        await change(
            service.update_officer,
            engine,
            by,
            officer_id=officer_id,
            changes={"on_duty": body.on_duty},
            action=AccessAction.SHIFT_CHANGED,
        )
    )


@router.post(
    "/v1/officers/{officer_id}/tokens",
    status_code=201,
    summary="Issue a bearer token (admin); shown once",
    responses=errors(403, 404),
)
async def issue_token(
    officer_id: OfficerPath,
    request: Request,
    by: AdminActing,
    engine: EngineDep,
    body: TokenCreate | None = None,
) -> TokenIssued:
    """A new token for the officer, expiring after `lifetime_seconds` (at most, and by
    default, the router's token lifetime). Only its hash is kept: store it now."""
    longest = request.app.state.settings.router_token_lifetime_seconds
    lifetime = longest if body is None or body.lifetime_seconds is None else body.lifetime_seconds
    if lifetime > longest:
        raise invalid(
            "body.lifetime_seconds",
            f"at most {longest} (SWITCHBOARD_ROUTER_TOKEN_LIFETIME_SECONDS)",
        )
    token_id, token, expires_at = await change(
        service.issue_token, engine, by, officer_id=officer_id, lifetime=timedelta(seconds=lifetime)
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
    by: AdminActing,
    engine: EngineDep,
) -> Response:
    """The token stops working at once."""
    await change(service.revoke_token, engine, by, officer_id=officer_id, token_id=token_id)
    return Response(status_code=204)
