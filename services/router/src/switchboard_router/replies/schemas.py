"""The reply routes' request and response models (`XCreate` / `XPublic`)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints, model_validator

from switchboard_router.fields import NO_CONTROLS, Body, Text, UtcDatetime
from switchboard_shared.events import ReplyStatus

# Longer than any platform takes (the policy's `limits` say how long each does,
# and a longer text is refused naming the limit): this bound only keeps a body small.
ReplyText = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=8000, pattern=NO_CONTROLS),
]
VariableName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,31}$")]
VariableValue = Annotated[str, StringConstraints(max_length=200, pattern=NO_CONTROLS)]


class ReplyCreate(Body):
    """A reply: free `text`, or a `template_id` with its `variables`."""

    text: ReplyText | None = None
    template_id: Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")] | None = (
        None
    )
    variables: Annotated[dict[VariableName, VariableValue], Field(max_length=20)] = Field(
        default_factory=dict
    )
    language: Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}$")] | None = Field(
        None, description="The template's language; default: the mention's, else English."
    )
    draft: bool = Field(False, description="Keep it as a draft instead of submitting it.")

    @model_validator(mode="after")
    def _text_or_template(self) -> ReplyCreate:
        if (self.text is None) == (self.template_id is None):
            raise ValueError("give either text or template_id")
        if self.text is not None and self.variables:
            raise ValueError("variables go with a template_id")
        return self


class ReplyEdit(Body):
    """New words for a reply (approval, if it had one, is needed again)."""

    text: ReplyText


class ReplyDecision(Body):
    """Why (optional): a rejection's or a cancellation's reason."""

    note: Text | None = None


class ReplyPublic(BaseModel):
    """A reply as the API shows it."""

    reply_id: str
    item_id: int
    mention_id: str
    source: str
    in_reply_to: str
    status: ReplyStatus
    text: str
    template_id: str | None
    language: str | None
    author: str
    approval_required: bool
    approval_rule: str
    approver: str | None
    approved_at: UtcDatetime | None
    note: str | None
    attempts: int
    send_after: UtcDatetime | None
    dispatched_at: UtcDatetime | None
    platform_post_id: str | None
    http_status: int | None
    error: str | None
    retry_at: UtcDatetime | None
    sent_at: UtcDatetime | None
    created_at: UtcDatetime
    updated_at: UtcDatetime | None


class ReplyList(BaseModel):
    """Replies, oldest first."""

    replies: list[ReplyPublic]


class AnswerPublic(BaseModel):
    """A citizen's answer to one of our replies, in the item's thread."""

    answer_id: int
    reply_id: str | None
    mention_id: str
    source_id: str
    text: str
    author: str | None
    written_at: UtcDatetime
    received_at: UtcDatetime


class ItemReplies(BaseModel):
    """An item's thread: our replies and the citizen's answers to them, oldest first."""

    replies: list[ReplyPublic]
    answers: list[AnswerPublic]


class Times(BaseModel):
    """How many, and the median and 90th percentile in seconds (None without any)."""

    count: int
    p50_seconds: float | None
    p90_seconds: float | None


class ResponseTimeGroup(BaseModel):
    """One queue x urgency x source: how many we could answer, did, and how fast."""

    queue: str
    urgency: str
    source: str
    answerable: int = Field(
        description="Mentions from an answerable source that are not spam or duplicates."
    )
    answered: int = Field(description="Of those, mentions with a sent reply.")
    answered_share: float | None
    first_response: Times = Field(
        description="The citizen's post to the platform confirming our first reply."
    )
    resolve: Times = Field(description="The citizen's post to the item being resolved.")


class ResponseTimes(BaseModel):
    """Responsiveness over [from, to), by group."""

    from_: UtcDatetime = Field(alias="from", serialization_alias="from")
    to: UtcDatetime
    groups: list[ResponseTimeGroup]


class ApprovalRulePublic(BaseModel):
    """Whether a reply of this kind needs a supervisor, and the policy rule that says so."""

    required: bool
    rule: str


class TemplatePublic(BaseModel):
    """A canned answer: its text per language and the variables it takes."""

    template_id: str
    languages: list[str]
    variables: list[str]
    texts: dict[str, str]


class ReplyOptions(BaseModel):
    """What a reply box on an item needs."""

    item_id: int
    source: str
    answerable: bool
    why_not: str | None = Field(description="Why this item cannot be answered, when it cannot.")
    limit: int | None = Field(description="The platform's length limit, in characters.")
    language: str | None
    hold_seconds: float = Field(description="How long an approved reply waits before sending.")
    approval: dict[str, ApprovalRulePublic] = Field(
        description="`free_text` and `template`: the approval rule each would meet."
    )
    templates: list[TemplatePublic]
