"""The access audit route's response models."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from switchboard_router.audit.service import AccessAction
from switchboard_router.fields import (
    UtcDatetime,
)


class AccessEntryPublic(BaseModel):
    """One row of the access audit: who (officer and token) did what to which object, from where."""

    access_id: int
    at: UtcDatetime
    officer_id: str
    token_id: str | None
    # Who minted the token (an admin), so acting with a token minted for someone else shows.
    token_issued_by: str | None
    action: AccessAction
    object: str | None
    client: str | None
    details: dict[str, Any]


class AccessPage(BaseModel):
    """Access-audit rows, newest first; pass `next_before` as `before` for older ones."""

    entries: list[AccessEntryPublic]
    next_before: int | None
