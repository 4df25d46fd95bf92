"""The router API's request and response models (`XCreate` / `XUpdate` / `XPublic`).

Request bodies refuse unknown fields, and every free-text field is bounded
and refuses control characters (PostgreSQL cannot store NUL; nobody needs
the others), so a malformed body is a 422 naming the field, never a 500.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from switchboard_router.audit.service import AccessAction
from switchboard_router.people.security import Role
from switchboard_router.routing.assignment import AssignmentMode
from switchboard_shared.events import Classification, MentionIn, Urgency

QUEUE_ID_PATTERN = r"^[a-z0-9][a-z0-9-]{0,63}$"
OFFICER_ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
_NO_CONTROLS = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"
MAX_ITEM_ID = 2**63 - 1


def _aware(value: datetime) -> datetime:
    # SQLite hands back naive datetimes; everything stored is UTC.
    return value if value.tzinfo else value.replace(tzinfo=UTC)


UtcDatetime = Annotated[datetime, AfterValidator(_aware)]
QueueId = Annotated[str, StringConstraints(pattern=QUEUE_ID_PATTERN)]
OfficerId = Annotated[str, StringConstraints(pattern=OFFICER_ID_PATTERN)]
Name = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=256, pattern=_NO_CONTROLS),
]
Text = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=4000, pattern=_NO_CONTROLS),
]
Topic = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[a-z0-9_]+$")]
Disposition = Literal["actioned", "referred", "duplicate", "no_action", "false_alarm"]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Problem(BaseModel):
    """An RFC 9457 problem document; `errors` names each bad field."""

    type: str
    title: str
    status: int
    detail: str
    errors: list[dict[str, str]] | None = None


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


class QueueCreate(_Body):
    """A queue to create; unset settings follow the routing policy."""

    queue_id: QueueId
    assignment_mode: AssignmentMode | None = None
    supervisor_queue: QueueId | None = None


class QueueUpdate(_Body):
    """Settings to change; `null` hands a setting back to the routing policy."""

    assignment_mode: AssignmentMode | None = None
    supervisor_queue: QueueId | None = None


class MemberAdd(_Body):
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


class OfficerCreate(_Body):
    """An officer (or a service account) to create."""

    name: Name
    role: Role = Role.OFFICER
    capacity: Annotated[int, Field(ge=1, le=100)] = 5
    on_duty: bool = False


class OfficerUpdate(_Body):
    """Officer fields to change."""

    name: Name | None = None
    role: Role | None = None
    capacity: Annotated[int, Field(ge=1, le=100)] | None = None
    on_duty: bool | None = None


class Shift(_Body):
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


class TokenCreate(_Body):
    """How long a new token lives (at most `SWITCHBOARD_ROUTER_TOKEN_LIFETIME_SECONDS`)."""

    lifetime_seconds: Annotated[int, Field(ge=60, le=10 * 365 * 24 * 3600)] | None = None


class ItemPublic(BaseModel):
    """A queue item with the classifier's reasons, the rule that placed it and its work state."""

    item_id: int
    mention_id: str
    queue_id: str
    status: Literal["open", "claimed", "acknowledged", "resolved"]
    urgency: str
    priority_rank: int = Field(
        description="Lower is served first: the urgency's rank minus raises."
    )
    score: float
    topics: list[str]
    reasons: list[dict[str, Any]]
    rule: str
    ruleset_version: str
    policy_version: str
    source: str
    source_id: str
    text: str
    received_at: UtcDatetime
    classified_at: UtcDatetime
    queued_at: UtcDatetime
    assignee: str | None
    claimed_at: UtcDatetime | None
    lease_expires_at: UtcDatetime | None
    acknowledged_at: UtcDatetime | None
    resolved_at: UtcDatetime | None
    disposition: str | None
    sla_due_at: UtcDatetime | None
    breached_at: UtcDatetime | None
    breach: str | None
    escalation_tier: int
    updated_at: UtcDatetime | None

    @classmethod
    def of(cls, row: dict[str, Any]) -> ItemPublic:
        """From a stored row."""
        return cls(item_id=row["id"], **{k: v for k, v in row.items() if k in cls.model_fields})


class NotePublic(BaseModel):
    """A note on an item."""

    note_id: int
    item_id: int
    officer_id: str
    at: UtcDatetime
    text: str


class AuditPublic(BaseModel):
    """One step in an item's history."""

    audit_id: int
    at: UtcDatetime
    actor: str
    action: str
    queue_id: str | None
    details: dict[str, Any]


class ItemDetail(ItemPublic):
    """An item with its mention, watch queues, notes and audit trail."""

    mention: dict[str, Any]
    watch_queues: list[str]
    notes: list[NotePublic]
    audit: list[AuditPublic]


class ItemPage(BaseModel):
    """One page of a queue, by priority then oldest first."""

    queue_id: str
    items: list[ItemPublic]
    next_cursor: str | None


class Transfer(_Body):
    """Where the item goes: another queue's pool, an officer, or both."""

    queue_id: QueueId | None = None
    officer_id: OfficerId | None = None
    reason: Text | None = None


class Resolve(_Body):
    """How the item was closed."""

    disposition: Disposition
    note: Text | None = None


class NoteCreate(_Body):
    """A note to attach."""

    text: Text


class FeedbackCreate(_Body):
    """A correction of the classifier's verdict, for it to learn from."""

    urgency: Urgency | None = None
    topics: Annotated[list[Topic], Field(max_length=20)] | None = None
    comment: Text | None = None


class FeedbackPublic(BaseModel):
    """The feedback as published to `mentions.feedback.v1`."""

    event_id: str
    mention_id: str
    item_id: int
    urgency: Urgency | None
    topics: list[str] | None
    comment: str | None


class ExplainRequest(_Body):
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
