"""The officer routes' request and response models (`XCreate` / `XUpdate` / `XPublic`)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field

from switchboard_router.fields import (
    Body,
    Name,
    UtcDatetime,
)
from switchboard_router.people.security import Role


class OfficerCreate(Body):
    """An officer (or a service account) to create."""

    name: Name
    role: Role = Role.OFFICER
    capacity: Annotated[int, Field(ge=1, le=100)] = 5
    on_duty: bool = False


class OfficerUpdate(Body):
    """Officer fields to change."""

    name: Name | None = None
    role: Role | None = None
    capacity: Annotated[int, Field(ge=1, le=100)] | None = None
    on_duty: bool | None = None


class Shift(Body):
    """Going on or off duty."""

    on_duty: bool


class OfficerPublic(BaseModel):
    """An officer and their queues."""

    officer_id: str
    name: str
    role: Role
    on_duty: bool
    capacity: int
    queues: list[str]
    created_at: UtcDatetime


class OfficerList(BaseModel):
    """Every officer."""

    officers: list[OfficerPublic]


class TokenIssued(BaseModel):
    """A new bearer token: shown this once, stored only as a hash."""

    token_id: str
    officer_id: str
    token: str
    expires_at: UtcDatetime | None = None


class TokenCreate(Body):
    """How long a new token lives (at most `SWITCHBOARD_ROUTER_TOKEN_LIFETIME_SECONDS`)."""

    lifetime_seconds: Annotated[int, Field(ge=60, le=10 * 365 * 24 * 3600)] | None = None
