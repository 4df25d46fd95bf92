"""Every event that crosses a topic, declared once.

Events are frozen pydantic models carrying `schema_version`, their own
`event_id` and their time. Changes are additive; a breaking change is a new
topic version (`...v2`), never an edit in place.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, field_validator
from pydantic_core import to_json

from switchboard_shared.identity import mention_id_for

MAX_TEXT_CHARS = 10_000
MAX_METADATA_KEYS = 50
MAX_METADATA_JSON_BYTES = 8 * 1024
MAX_REFERENCES = 10
MAX_MEDIA = 20

ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=256)]


def utc_now() -> datetime:
    """The current time, timezone-aware in UTC."""
    return datetime.now(UTC)


def new_event_id() -> str:
    """A fresh random id for one event."""
    return str(uuid.uuid4())


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Source(StrEnum):
    """Where a mention came from."""

    X = "x"
    FACEBOOK = "facebook"
    INSTAGRAM = "instagram"
    REDDIT = "reddit"
    NEXTDOOR = "nextdoor"
    BLUESKY = "bluesky"
    MASTODON = "mastodon"
    RSS = "rss"
    APP = "app"
    EMAIL = "email"
    SMS = "sms"
    OTHER = "other"

    @property
    def submitter_scoped(self) -> bool:
        """True when the submitter, not a platform, makes up this source's ids.

        An app's case number or an SMS gateway's message id means something only
        to whoever sent it, so two API keys can use the same one for different
        mentions: the mention id of these sources is namespaced by the key's
        agency, or one key could make another's report a "duplicate". Platform
        ids (a tweet id, a Page post id, a feed item) name one post whichever
        door it comes through, so they stay global and dedupe across doors.
        """
        return self in _SUBMITTER_SCOPED


_SUBMITTER_SCOPED = frozenset({Source.APP, Source.EMAIL, Source.SMS, Source.OTHER})


class Urgency(StrEnum):
    """How soon somebody must act. Ordered from most to least urgent."""

    CRITICAL = "critical"
    HIGH = "high"
    NORMAL = "normal"
    LOW = "low"

    @property
    def rank(self) -> int:
        """0 for critical up to 3 for low: sorts the most urgent first."""
        return _URGENCY_RANK[self]


_URGENCY_RANK = {Urgency.CRITICAL: 0, Urgency.HIGH: 1, Urgency.NORMAL: 2, Urgency.LOW: 3}


class Author(_Frozen):
    """Who wrote the mention, as the platform reports it."""

    handle: ShortText
    display_name: Annotated[str, StringConstraints(max_length=256)] | None = None
    follower_count: Annotated[int, Field(ge=0)] | None = None
    verified: bool = False


class GeoPoint(_Frozen):
    """A WGS84 point."""

    lat: Annotated[float, Field(ge=-90, le=90)]
    lon: Annotated[float, Field(ge=-180, le=180)]


Url = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2048)]


class Reference(_Frozen):
    """Another post this mention replies to, quotes or reposts."""

    kind: Literal["reply", "quote", "repost"]
    source_id: ShortText
    url: Url | None = None


class MediaLink(_Frozen):
    """A picture, video or other attachment of the mention."""

    url: Url
    kind: Literal["image", "video", "audio", "link", "other"] = "other"


class MentionIn(_Frozen):
    """A mention as a client submits it: the canonical mention, schema v1."""

    source: Source
    source_id: ShortText
    text: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_TEXT_CHARS)
    ]
    created_at: AwareDatetime
    author: Author | None = None
    url: Url | None = None
    language: (
        Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$")] | None
    ) = None
    geo: GeoPoint | None = None
    district: ShortText | None = None
    references: Annotated[tuple[Reference, ...], Field(max_length=MAX_REFERENCES)] = ()
    media: Annotated[tuple[MediaLink, ...], Field(max_length=MAX_MEDIA)] = ()
    metadata: Annotated[dict[str, Any], Field(max_length=MAX_METADATA_KEYS)] = Field(
        default_factory=dict
    )

    @field_validator("metadata")
    @classmethod
    def _metadata_is_small(cls, value: dict[str, Any]) -> dict[str, Any]:
        # The size it takes in the event itself: compact UTF-8 JSON, as pydantic writes it.
        size = len(to_json(value, fallback=str))
        if size > MAX_METADATA_JSON_BYTES:
            raise ValueError(f"metadata is {size} bytes as JSON; at most {MAX_METADATA_JSON_BYTES}")
        return value

    @property
    def mention_id(self) -> str:
        """The stable id of this mention."""
        return mention_id_for(self.source.value, self.source_id)

    def mention_id_from(self, agency: str | None) -> str:
        """The stable id of this mention as submitted by `agency` (None: no API key).

        Namespaced by the agency for submitter-scoped sources, global otherwise.
        """
        if agency is None or not self.source.submitter_scoped:
            return self.mention_id
        return mention_id_for(self.source.value, self.source_id, namespace=agency)


class MentionReceived(_Frozen):
    """On `mentions.raw.v1`: a mention accepted by ingest."""

    schema_version: Literal[1] = 1
    event_id: str = Field(default_factory=new_event_id)
    mention_id: str
    received_at: AwareDatetime = Field(default_factory=utc_now)
    mention: MentionIn


class Reason(_Frozen):
    """Why the classifier decided something: which rule matched which words."""

    rule: str
    label: str
    matched: tuple[str, ...] = ()


class Location(_Frozen):
    """Where a mention places its event, and how the classifier found it."""

    text: str
    # "street": a street named without a house number or a crossing ("fire on Harbor Rd"):
    # no point (a street is a line), a district only when the street lies in one.
    how: Literal["address", "intersection", "landmark", "street", "geo"]
    lat: Annotated[float, Field(ge=-90, le=90)] | None = None
    lon: Annotated[float, Field(ge=-180, le=180)] | None = None
    # The gazetteer's name of the street an address or a street place is on, so that
    # "300 Harbor Rd" and "harbor road" are known to be on one street.
    street: str | None = None


class Classification(_Frozen):
    """The classifier's verdict on one mention.

    `score` is the confidence in `urgency`; the fields after `ruleset_version`
    were added later and have defaults, so older events still validate.
    """

    urgency: Urgency
    score: Annotated[float, Field(ge=0.0, le=1.0)]
    topics: tuple[str, ...]
    reasons: tuple[Reason, ...] = ()
    ruleset_version: str
    topic_scores: dict[str, float] = Field(default_factory=dict)
    language: str | None = None
    location: Location | None = None
    district: str | None = None
    model_version: str | None = None


class MentionClassified(_Frozen):
    """On `mentions.classified.v1`: a received mention with its classification."""

    schema_version: Literal[1] = 1
    event_id: str = Field(default_factory=new_event_id)
    mention_id: str
    received_at: AwareDatetime
    classified_at: AwareDatetime = Field(default_factory=utc_now)
    mention: MentionIn
    classification: Classification


class Disposition(StrEnum):
    """How an officer closed an item: the router stores it, the classifier learns from it."""

    ACTIONED = "actioned"
    REFERRED = "referred"
    DUPLICATE = "duplicate"
    NO_ACTION = "no_action"
    FALSE_ALARM = "false_alarm"


class RoutedAction(StrEnum):
    """What happened to a queue item."""

    QUEUED = "queued"
    CLAIMED = "claimed"
    ASSIGNED = "assigned"
    HEARTBEAT = "heartbeat"
    ACKNOWLEDGED = "acknowledged"
    RELEASED = "released"
    TRANSFERRED = "transferred"
    RESOLVED = "resolved"
    NOTE_ADDED = "note_added"
    LEASE_EXPIRED = "lease_expired"
    SLA_BREACHED = "sla_breached"
    ESCALATED = "escalated"
    PRIORITY_RAISED = "priority_raised"
    FEEDBACK = "feedback"
    # Answers to the citizen (each step of a reply is in its item's audit trail).
    REPLY_DRAFTED = "reply_drafted"
    REPLY_EDITED = "reply_edited"
    REPLY_SUBMITTED = "reply_submitted"
    REPLY_APPROVED = "reply_approved"
    REPLY_REJECTED = "reply_rejected"
    REPLY_CANCELLED = "reply_cancelled"
    REPLY_RETRIED = "reply_retried"
    REPLY_DISPATCHED = "reply_dispatched"
    REPLY_REPORTED = "reply_reported"
    CITIZEN_ANSWERED = "citizen_answered"


class _ItemEvent(_Frozen):
    """The head every router event about a queue item starts with (its fields come first)."""

    schema_version: Literal[1] = 1
    event_id: str = Field(default_factory=new_event_id)
    mention_id: str
    item_id: int


class MentionRouted(_ItemEvent):
    """On `mentions.routed.v1`: a change to a queue item."""

    queue_id: str
    action: RoutedAction
    rule: str
    urgency: Urgency
    at: AwareDatetime = Field(default_factory=utc_now)
    actor: str | None = None
    assignee: str | None = None
    status: str | None = None
    details: dict[str, Any] = Field(default_factory=dict)


class MentionEscalated(_ItemEvent):
    """On `mentions.escalated.v1`: a queue item breached its SLA and climbed a tier."""

    queue_id: str
    urgency: Urgency
    tier: Annotated[int, Field(ge=1)]
    breach: Literal["claim", "ack"]
    breached_at: AwareDatetime
    actions: tuple[str, ...] = ()
    notify: str | None = None
    at: AwareDatetime = Field(default_factory=utc_now)
    # The incident the item belongs to, when it belongs to one, and how many
    # mentions it has: the notifier pages once per incident, again only as it grows.
    incident_id: Annotated[int, Field(ge=1)] | None = None
    member_count: Annotated[int, Field(ge=1)] = 1


class MentionFeedback(_ItemEvent):
    """On `mentions.feedback.v1`: an officer's correction of the classifier's verdict."""

    officer_id: str
    original_urgency: Urgency
    original_topics: tuple[str, ...]
    urgency: Urgency | None = None
    topics: tuple[str, ...] | None = None
    comment: str | None = None
    ruleset_version: str
    at: AwareDatetime = Field(default_factory=utc_now)


class ReplyStatus(StrEnum):
    """Where an answer to a citizen stands.

    draft -> pending_approval -> approved -> sending -> sent; a person may stop it
    (rejected, cancelled); the responder reports failed_retryable (a person may
    retry), failed_permanent, or unknown: the request went out and no answer came
    back, so nobody knows whether the post exists and it is never re-sent by
    itself on a platform without an idempotency key.
    """

    DRAFT = "draft"
    PENDING_APPROVAL = "pending_approval"
    APPROVED = "approved"
    SENDING = "sending"
    SENT = "sent"
    REJECTED = "rejected"
    CANCELLED = "cancelled"
    FAILED_RETRYABLE = "failed_retryable"
    FAILED_PERMANENT = "failed_permanent"
    UNKNOWN = "unknown"

    @property
    def final(self) -> bool:
        """No step of the responder follows (a person may still retry a retryable one)."""
        return self in _FINAL_REPLY_STATUSES


_FINAL_REPLY_STATUSES = frozenset(
    {
        ReplyStatus.SENT,
        ReplyStatus.REJECTED,
        ReplyStatus.CANCELLED,
        ReplyStatus.FAILED_RETRYABLE,
        ReplyStatus.FAILED_PERMANENT,
        ReplyStatus.UNKNOWN,
    }
)


class ReplyRequested(_Frozen):
    """On `replies.v1`: an approved answer the responder is to post (router -> responder).

    One event per attempt: `attempt` grows only when a person retries, so the
    responder sends each (reply_id, attempt) at most once, however often the
    router's outbox publishes it.
    """

    schema_version: Literal[1] = 1
    event_id: str = Field(default_factory=new_event_id)
    reply_id: str
    mention_id: str
    item_id: int
    source: Source
    # The platform id of the post answered (the mention's source_id).
    in_reply_to: ShortText
    text: Annotated[str, StringConstraints(min_length=1, max_length=8000)]
    attempt: Annotated[int, Field(ge=1)] = 1
    requested_at: AwareDatetime = Field(default_factory=utc_now)


class ReplyOutcome(_Frozen):
    """On `replies.outcomes.v1`: what the responder did with one attempt (responder -> router)."""

    schema_version: Literal[1] = 1
    event_id: str = Field(default_factory=new_event_id)
    reply_id: str
    mention_id: str
    item_id: int
    attempt: Annotated[int, Field(ge=1)]
    status: Literal[
        ReplyStatus.SENDING,
        ReplyStatus.SENT,
        ReplyStatus.FAILED_RETRYABLE,
        ReplyStatus.FAILED_PERMANENT,
        ReplyStatus.UNKNOWN,
    ]
    channel: ShortText
    platform_post_id: ShortText | None = None
    http_status: int | None = None
    # No text of the reply or the mention here: this is what logs and alerts see.
    error: Annotated[str, StringConstraints(max_length=500)] | None = None
    retry_at: AwareDatetime | None = None
    at: AwareDatetime = Field(default_factory=utc_now)


class DeadLetterReason(StrEnum):
    """Why a stage dead-lettered a record: `DeadLetter.reason`, and each stage's metric label."""

    EMPTY = "empty"  # a record with no value
    NOT_JSON = "not_json"
    SCHEMA = "schema"  # JSON, but not the topic's event
    NORMALISATION = "normalisation"  # ingest: a platform item that maps to no mention
    RULE_ERROR = "rule_error"  # classifier: a rule or the model raised
    ROUTING_ERROR = "routing_error"  # router: the routing policy raised
    STORE_ERROR = "store_error"  # router: the database refused the record's data


class DeadLetter(_Frozen):
    """On `mentions.deadletter.v1`: a record a stage could not process, and why."""

    schema_version: Literal[1] = 1
    event_id: str = Field(default_factory=new_event_id)
    stage: str
    reason: str
    error: str
    source_topic: str | None = None
    partition: int | None = None
    offset: int | None = None
    mention_id: str | None = None
    raw_payload: str
    failed_at: AwareDatetime = Field(default_factory=utc_now)
