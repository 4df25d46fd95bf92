"""The queue routes' request and response models (`XCreate` / `XUpdate` / `XPublic`)."""

from __future__ import annotations

from pydantic import BaseModel

from switchboard_router.fields import (
    Body,
    OfficerId,
    QueueId,
    UtcDatetime,
)
from switchboard_router.people.security import Role
from switchboard_router.routing.assignment import AssignmentMode


class QueuePublic(BaseModel):
    """A queue, its settings in force and its open backlog."""

    queue_id: str
    depth: int
    depth_by_urgency: dict[str, int]
    oldest_received_at: UtcDatetime | None
    top_urgency_rank: int | None
    assignment_mode: AssignmentMode
    supervisor_queue: str | None


class QueueList(BaseModel):
    """The queues the caller may see."""

    queues: list[QueuePublic]


class QueueCreate(Body):
    """A queue to create; unset settings follow the routing policy."""

    queue_id: QueueId
    assignment_mode: AssignmentMode | None = None
    supervisor_queue: QueueId | None = None


class QueueUpdate(Body):
    """Settings to change; `null` hands a setting back to the routing policy."""

    assignment_mode: AssignmentMode | None = None
    supervisor_queue: QueueId | None = None


class MemberAdd(Body):
    """An officer to put in the queue."""

    officer_id: OfficerId


class MemberPublic(BaseModel):
    """A member of a queue."""

    officer_id: str
    name: str
    role: Role
    on_duty: bool
    capacity: int


class MemberList(BaseModel):
    """A queue's members."""

    queue_id: str
    members: list[MemberPublic]
