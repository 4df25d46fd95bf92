"""The access audit route: who read or changed what (admin)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query

from switchboard_router.audit import service as access
from switchboard_router.audit.schemas import AccessEntryPublic, AccessPage
from switchboard_router.audit.service import Access, AccessAction
from switchboard_router.fields import MAX_ITEM_ID, OFFICER_ID_PATTERN
from switchboard_router.http import call, errors, invalid, public
from switchboard_router.people.deps import (
    AdminActing,
    EngineDep,
    audit_read,
)

router = APIRouter()


def _utc(value: datetime | None, field: str) -> datetime | None:
    if value is None:
        return None
    try:
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    except (OverflowError, ValueError) as exc:
        raise invalid(f"query.{field}", "not a time the audit can hold") from exc


@router.get("/v1/audit/access", summary="Who read or changed what (admin)", responses=errors(403))
async def access_audit(
    by: AdminActing,
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
    rows = await call(access.entries, engine, filters)
    page, more = rows[:limit], len(rows) > limit
    asked = {k: v for k, v in vars(filters).items() if v is not None and k != "limit"}
    await audit_read(engine, Access(by, AccessAction.AUDIT_READ, details=asked))
    return AccessPage(
        entries=[public(AccessEntryPublic, r, "access_id") for r in page],
        next_before=page[-1]["id"] if more else None,
    )
