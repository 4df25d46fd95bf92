"""The routing routes' request and response models."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from switchboard_router.fields import (
    Body,
)
from switchboard_router.routing.assignment import AssignmentMode
from switchboard_shared.events import Classification, MentionIn


class ExplainRequest(Body):
    """A mention and a classification to route without storing anything."""

    mention: MentionIn
    classification: Classification


class ExplainStep(BaseModel):
    """One rule's verdict."""

    rule: str
    outcome: Literal["placed", "tagged", "skipped"]
    reason: str


class Explanation(BaseModel):
    """Where the mention would go, and why."""

    policy_version: str
    queue_id: str
    rule: str
    priority_boost: int
    watch_queues: list[str]
    tagged_by: list[str]
    assignment_mode: AssignmentMode
    supervisor_queue: str | None
    sla: str | None
    claim_seconds: float | None
    ack_seconds: float | None
    trace: list[ExplainStep]


class PolicyPublic(BaseModel):
    """The routing policy in force."""

    version: str
    default_queue: str
    rules: list[str]
    source: str
