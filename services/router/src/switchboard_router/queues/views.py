"""Queue routes: the queues you may see, their settings (admin) and members."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response
from sqlalchemy import Engine

from switchboard_router.audit.service import Access, AccessAction
from switchboard_router.http import call, change, errors, public
from switchboard_router.people.deps import (
    ActingBy,
    AdminActing,
    CurrentCaller,
    EngineDep,
    OfficerPath,
    PoliciesDep,
    QueuePath,
    audit_read,
    require_readable_queue,
)
from switchboard_router.people.security import Role
from switchboard_router.queues import service
from switchboard_router.queues.schemas import (
    MemberAdd,
    MemberList,
    MemberPublic,
    QueueCreate,
    QueueList,
    QueuePublic,
    QueueUpdate,
)
from switchboard_router.routing.holder import PolicyHolder
from switchboard_shared.problems import ProblemError

router = APIRouter()


def _queue_public(policy: Any, q: dict[str, Any]) -> QueuePublic:
    settings = policy.settings_for(
        q["queue_id"], assignment_mode=q["assignment_mode"], supervisor_queue=q["supervisor_queue"]
    )
    return QueuePublic(
        **{k: v for k, v in q.items() if k not in ("assignment_mode", "supervisor_queue")},
        assignment_mode=settings.assignment,
        supervisor_queue=settings.supervisor_queue,
    )


async def _queue(engine: Engine, policies: PolicyHolder, queue_id: str) -> QueuePublic:
    """One queue as the API shows it, its settings resolved against the policy in force."""
    [row] = await call(service.list_queues, engine, only=frozenset({queue_id}))
    return _queue_public(policies.current(), row)


async def _members(engine: Engine, queue_id: str) -> MemberList:
    rows = await call(service.list_members, engine, queue_id=queue_id)
    return MemberList(
        queue_id=queue_id, members=[public(MemberPublic, r, "officer_id") for r in rows]
    )


@router.get("/v1/queues", summary="Queues you may see", responses=errors())
async def get_queues(caller: CurrentCaller, engine: EngineDep, policies: PoliciesDep) -> QueueList:
    """Your queues (every queue for admins and services) with depth and oldest open item."""
    only = None if caller.sees_everything else caller.queues
    rows = await call(service.list_queues, engine, only=only)
    return QueueList(queues=[_queue_public(policies.current(), q) for q in rows])


@router.post(
    "/v1/queues", status_code=201, summary="Create a queue (admin)", responses=errors(403, 409)
)
async def create_queue(
    body: QueueCreate, by: AdminActing, engine: EngineDep, policies: PoliciesDep
) -> QueuePublic:
    """A new queue; settings left unset follow the routing policy."""
    await change(
        service.create_queue,
        engine,
        by,
        queue_id=body.queue_id,
        assignment_mode=body.assignment_mode.value if body.assignment_mode else None,
        supervisor_queue=body.supervisor_queue,
    )
    return await _queue(engine, policies, body.queue_id)


@router.patch(
    "/v1/queues/{queue_id}", summary="Change a queue's settings (admin)", responses=errors(403, 404)
)
async def update_queue(
    queue_id: QueuePath,
    body: QueueUpdate,
    by: AdminActing,
    engine: EngineDep,
    policies: PoliciesDep,
) -> QueuePublic:
    """Set the assignment mode or supervisor queue; `null` returns it to the policy's."""
    changes = body.model_dump(exclude_unset=True, mode="json")
    await change(service.update_queue, engine, by, queue_id=queue_id, changes=changes)
    return await _queue(engine, policies, queue_id)


@router.get(
    "/v1/queues/{queue_id}/members",
    summary="Members of a queue (admins, and supervisors of the queue)",
    responses=errors(403, 404),
)
async def get_members(
    queue_id: QueuePath, caller: CurrentCaller, by: ActingBy, engine: EngineDep
) -> MemberList:
    """Who works the queue, on duty or not."""
    await require_readable_queue(caller, engine, queue_id)
    if not caller.is_supervisor and caller.role is not Role.SERVICE:
        raise ProblemError(
            403, "forbidden", "Forbidden", "only supervisors and admins list members"
        )
    members = await _members(engine, queue_id)
    await audit_read(engine, Access(by, AccessAction.MEMBERS_READ, f"queue:{queue_id}"))
    return members


@router.post(
    "/v1/queues/{queue_id}/members",
    status_code=201,
    summary="Put an officer in a queue (admin)",
    responses=errors(403, 404),
)
async def add_member(
    queue_id: QueuePath, body: MemberAdd, by: AdminActing, engine: EngineDep
) -> MemberList:
    """Add a member (idempotent); returns the queue's members."""
    await change(service.add_member, engine, by, queue_id=queue_id, officer_id=body.officer_id)
    return await _members(engine, queue_id)


@router.delete(
    "/v1/queues/{queue_id}/members/{officer_id}",
    status_code=204,
    summary="Take an officer out of a queue (admin)",
    responses=errors(403, 404),
)
async def remove_member(
    queue_id: QueuePath,
    officer_id: OfficerPath,
    by: AdminActing,
    engine: EngineDep,
) -> Response:
    """Remove a member."""
    await change(service.remove_member, engine, by, queue_id=queue_id, officer_id=officer_id)
    return Response(status_code=204)
