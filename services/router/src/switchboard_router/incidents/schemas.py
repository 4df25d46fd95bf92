"""The incident routes' request and response models (docs/incidents.md, the API contract)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, Field

from switchboard_router.fields import MAX_ITEM_ID, Body, Text, UtcDatetime
from switchboard_router.incidents.clustering import IncidentStatus, Link, LinkReason
from switchboard_shared.events import Disposition, Urgency

IncidentId = Annotated[int, Field(ge=1, le=MAX_ITEM_ID)]
ItemId = Annotated[int, Field(ge=1, le=MAX_ITEM_ID)]


class IncidentPublic(BaseModel):
    """An incident as the caller sees it: counts and queues of the members it may see."""

    incident_id: int
    status: IncidentStatus
    urgency: Urgency
    member_count: int = Field(description="Members linked automatic or confirmed.")
    suggested_count: int
    topics: list[str]
    place: str | None
    district: str | None
    queue_ids: list[str]
    first_seen: UtcDatetime
    last_seen: UtcDatetime
    assignee: str | None

    @classmethod
    def of(cls, shown: dict[str, Any]) -> IncidentPublic:
        return cls(**{k: v for k, v in shown.items() if k in cls.model_fields})


class MemberPublic(BaseModel):
    """One item of an incident, how it was linked and where it stands."""

    item_id: int
    mention_id: str
    link: Link
    score: float
    reason: LinkReason
    model_version: str
    decided_by: str | None
    linked_at: UtcDatetime
    queue_id: str
    status: str
    urgency: str
    received_at: UtcDatetime

    @classmethod
    def of(cls, row: dict[str, Any]) -> MemberPublic:
        return cls(**{k: v for k, v in row.items() if k in cls.model_fields})


class IncidentDetail(IncidentPublic):
    """An incident with its members, by received_at (the console's timeline)."""

    members: list[MemberPublic]

    @classmethod
    def of(cls, shown: dict[str, Any]) -> IncidentDetail:
        base = IncidentPublic.of(shown).model_dump()
        return cls(**base, members=[MemberPublic.of(m) for m in shown["members"]])


class IncidentList(BaseModel):
    """Incidents, newest `last_seen` first."""

    incidents: list[IncidentPublic]


class Merge(Body):
    """The incident whose members move into this one."""

    incident_id: IncidentId


class Split(Body):
    """The members that leave for a new incident."""

    item_ids: Annotated[list[ItemId], Field(min_length=1, max_length=500)]


class Resolve(Body):
    """How every member is closed."""

    disposition: Disposition
    note: Text | None = None


class Claimed(BaseModel):
    """What an incident claim took and what it left."""

    claimed: list[int]
    skipped: list[int]


class Resolved(BaseModel):
    """What an incident resolve closed and what it left."""

    resolved: list[int]
    skipped: list[int]
