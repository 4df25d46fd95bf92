"""The request dependencies every view uses: the engine and policy holder, the
authenticated caller (`CurrentCaller`), who is acting for the access audit
(`ActingBy`, or `AdminActing` for admin-only routes, which also checks the
caller is an admin) and the path parameters."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Engine

from switchboard_router.audit import service as access
from switchboard_router.audit.service import By
from switchboard_router.fields import MAX_ITEM_ID, OFFICER_ID_PATTERN, QUEUE_ID_PATTERN
from switchboard_router.people import service as people
from switchboard_router.people.security import Principal, Role
from switchboard_router.queues.service import queue_exists
from switchboard_router.routing.holder import PolicyHolder
from switchboard_shared.problems import ProblemError
from switchboard_web.state import app_state

get_engine = app_state("engine", Engine)
get_policies = app_state("policies", PolicyHolder)


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
        raise ProblemError(
            401, "unauthorized", "Unauthorized", "a bearer token is required", headers=challenge
        )
    if len(credentials.credentials) > 512:
        principal = None
    else:
        principal = await asyncio.to_thread(
            people.authenticate, engine, token=credentials.credentials
        )
    if principal is None:
        raise ProblemError(
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
    return By(caller.officer_id, caller.token_id, request.client.host if request.client else None)


ActingBy = Annotated[By, Depends(acting)]


async def audit_read(engine: Engine, read: access.Access) -> None:
    """Record a read before its answer leaves: no data goes out unrecorded."""
    await asyncio.to_thread(access.record_read, engine, read, now=datetime.now(UTC))


def admin_acting(caller: CurrentCaller, by: ActingBy) -> By:
    """Who is acting; 403 unless the caller is an admin."""
    if caller.role is not Role.ADMIN:
        raise ProblemError(403, "forbidden", "Forbidden", "only admins may do this")
    return by


# An admin-only route takes `by: AdminActing`: the check is in its signature, so it
# cannot be forgotten in the body, and a non-admin is refused (403) before the request
# body is validated, so a refusal never reveals what the body should have held (422).
AdminActing = Annotated[By, Depends(admin_acting)]


QueuePath = Annotated[str, Path(pattern=QUEUE_ID_PATTERN, description="Queue id.")]
OfficerPath = Annotated[str, Path(pattern=OFFICER_ID_PATTERN, description="Officer id.")]
ItemPath = Annotated[int, Path(ge=1, le=MAX_ITEM_ID, description="Item id.")]


async def require_readable_queue(caller: Principal, engine: Engine, queue_id: str) -> None:
    """404 unless the queue exists and the caller may read it (the two look the same)."""
    if not caller.can_read(queue_id) or not await asyncio.to_thread(
        queue_exists, engine, queue_id=queue_id
    ):
        raise ProblemError(404, "not-found", "No such queue", f"queue {queue_id!r} does not exist")
