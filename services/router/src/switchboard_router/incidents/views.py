"""Incident routes (the contract in docs/incidents.md): the incidents the caller sees,
one incident with its members, and the work on it (merge, split, confirm or reject a
member, claim and resolve every member).

Same authentication and visibility as items: an incident is seen through the members
the caller may see, and one with none of them is a 404. Each change's access row
commits with the change itself.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal, TypeVar, cast

from fastapi import Depends, Path, Query, Request
from fastapi.routing import APIRouter
from sqlalchemy import Engine

from switchboard_router.audit import service as access
from switchboard_router.audit.service import Access, AccessAction
from switchboard_router.fields import MAX_ITEM_ID
from switchboard_router.http import call, errors
from switchboard_router.incidents import service
from switchboard_router.incidents.clustering import IncidentStatus, Link
from switchboard_router.incidents.schemas import (
    Claimed,
    IncidentDetail,
    IncidentList,
    IncidentPublic,
    MemberPublic,
    Merge,
    Resolve,
    Resolved,
    Split,
)
from switchboard_router.items.steps import StepContext
from switchboard_router.people.deps import (
    ActingBy,
    CurrentCaller,
    EngineDep,
    ItemPath,
    acting,
    audit_read,
)

router = APIRouter()
T = TypeVar("T")

IncidentPath = Annotated[int, Path(ge=1, le=MAX_ITEM_ID, description="Incident id.")]
STEP_ERRORS = errors(403, 404, 409)
_LISTED = {
    "open": (IncidentStatus.OPEN,),
    "resolved": (IncidentStatus.RESOLVED,),
    "all": (IncidentStatus.OPEN, IncidentStatus.RESOLVED),
}


class IncidentWork:
    """A change to an incident: the caller, the engine, the time and the policy in force."""

    def __init__(self, request: Request, caller: CurrentCaller, engine: EngineDep) -> None:
        self.request, self.caller, self.engine = request, caller, engine

    @property
    def context(self) -> StepContext:
        state = self.request.app.state
        return StepContext(
            now=datetime.now(UTC),
            lease_seconds=state.settings.router_lease_seconds,
            policy=state.policies.current(),
        )

    async def act(self, fn: Callable[..., T], incident_id: int, step: str, **kwargs: Any) -> T:
        """Run the change with its access row in its own transaction, then wake the relay."""
        by = acting(self.request, self.caller)
        entry = access.Access(
            by, AccessAction.ITEM_STEP, obj=f"incident:{incident_id}", details={"step": step}
        )
        engine = cast(Engine, access.RecordingEngine(self.engine, entry))
        result = await call(fn, engine, incident_id=incident_id, actor=self.caller, **kwargs)
        self.request.app.state.relay.wake()
        return result


Work = Annotated[IncidentWork, Depends()]


@router.get("/v1/incidents", summary="Incidents you see, newest last_seen first")
async def list_incidents(
    caller: CurrentCaller,
    by: ActingBy,
    engine: EngineDep,
    status: Annotated[
        Literal["open", "resolved", "all"], Query(description="`open` (default).")
    ] = "open",
) -> IncidentList:
    """Incidents with at least one member in a queue you may read."""
    rows = await call(service.list_incidents, engine, actor=caller, statuses=_LISTED[status])
    shown = {"status": status, "incidents": [r["incident_id"] for r in rows]}
    await audit_read(engine, Access(by, AccessAction.ITEM_READ, "incidents", shown))
    return IncidentList(incidents=[IncidentPublic.of(r) for r in rows])


@router.get(
    "/v1/incidents/{incident_id}",
    summary="An incident with its members (the timeline)",
    responses=errors(404),
)
async def get_incident(
    incident_id: IncidentPath, caller: CurrentCaller, by: ActingBy, engine: EngineDep
) -> IncidentDetail:
    """The incident and the members you may see, by received_at."""
    shown = await call(service.detail, engine, incident_id=incident_id, actor=caller)
    members = {"items": [m["item_id"] for m in shown["members"]]}
    await audit_read(engine, Access(by, AccessAction.ITEM_READ, f"incident:{incident_id}", members))
    return IncidentDetail.of(shown)


@router.post(
    "/v1/incidents/{incident_id}/merge",
    summary="Merge another incident into this one",
    responses=STEP_ERRORS,
)
async def merge_incident(incident_id: IncidentPath, body: Merge, work: Work) -> IncidentDetail:
    """The other incident's members move here; it becomes `merged` and leaves the lists."""
    shown = await work.act(
        service.merge, incident_id, "merge", other_id=body.incident_id, now=datetime.now(UTC)
    )
    return IncidentDetail.of(shown)


@router.post(
    "/v1/incidents/{incident_id}/split",
    status_code=201,
    summary="Split members off into a new incident",
    responses=STEP_ERRORS,
)
async def split_incident(incident_id: IncidentPath, body: Split, work: Work) -> IncidentDetail:
    """The members named leave for a new incident, which is answered."""
    shown = await work.act(
        service.split, incident_id, "split", item_ids=body.item_ids, now=datetime.now(UTC)
    )
    return IncidentDetail.of(shown)


class Decision(StrEnum):
    """What a person says of a member's link (the path's last word)."""

    CONFIRM = "confirm"  # the item belongs to the incident (a suggestion becomes a member)
    REJECT = "reject"  # the item is not about this incident; it stops counting


_LINK_OF = {Decision.CONFIRM: Link.CONFIRMED, Decision.REJECT: Link.REJECTED}


@router.post(
    "/v1/incidents/{incident_id}/members/{item_id}/{decision}",
    summary="Confirm or reject a member's link",
    responses=STEP_ERRORS,
)
async def decide_member(
    incident_id: IncidentPath, item_id: ItemPath, decision: Decision, work: Work
) -> MemberPublic:
    """`confirm`: the item belongs to the incident (a suggested link becomes a member).
    `reject`: the item is not about this incident; it stops counting as a member."""
    link = _LINK_OF[decision]
    member = await work.act(
        service.decide_member,
        incident_id,
        link.value,
        item_id=item_id,
        link=link,
        now=datetime.now(UTC),
    )
    return MemberPublic.of(member)


@router.post(
    "/v1/incidents/{incident_id}/claim",
    summary="Claim every open member you may claim",
    responses=STEP_ERRORS,
)
async def claim_incident(incident_id: IncidentPath, work: Work) -> Claimed:
    """One officer works the event: every open member item becomes theirs."""
    result = await work.act(service.claim, incident_id, "claim", context=work.context)
    return Claimed(**result)


@router.post(
    "/v1/incidents/{incident_id}/resolve",
    summary="Resolve the incident and its members",
    responses=STEP_ERRORS,
)
async def resolve_incident(incident_id: IncidentPath, body: Resolve, work: Work) -> Resolved:
    """Every member you may resolve is closed with the disposition; the incident is resolved."""
    result = await work.act(
        service.resolve, incident_id, "resolve", context=work.context, **body.model_dump()
    )
    return Resolved(**result)
