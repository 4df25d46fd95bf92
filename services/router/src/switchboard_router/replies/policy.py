"""What a reply to a citizen must satisfy before it goes out: pure, no clock of its own.

The `replies` section of the routing policy says:

- `limits`: the longest reply each platform takes, in characters (X 280, the
  Mastodon instance's limit, Facebook's). A source with no limit cannot be
  answered from Switchboard (an RSS item, an SMS gateway without a sender):
  replying on such an item is refused with the reason.
- `approval`: ordered rules, the first that matches decides whether a reply
  needs a supervisor's approval. Conditions: `urgency`, `topics_any`,
  `queues` (globs), `sources`, `template` (true: a template answer, false: a
  free text). With no rule matching, approval is required: a reply nobody
  thought about is checked by a second person.
- `hold_seconds`: how long an approved reply waits before it is handed to the
  responder. In that window the author may still edit it (which takes it back
  to `pending_approval`) or cancel it; once handed over, neither.
- `templates`: canned answers by id, one text per language, with `{variable}`
  placeholders. Only named placeholders exist (no attribute or index access),
  and a value may not bring placeholders of its own.
- `answered_target`: the share of answerable mentions a queue (id or glob,
  first match) should answer; below it for an hour, an alert fires. A queue no
  entry matches has no target.

Transitions between reply states are here too, so that the service and its
tests read them from one table.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, TypeVar

from switchboard_router.routing.parsing import mapping_or_empty, named_entry, refuse_unknown
from switchboard_shared.events import ReplyStatus, Source, Urgency

_TOP_KEYS = {"limits", "approval", "hold_seconds", "templates", "answered_target"}
_RULE_KEYS = {"name", "when", "approval"}
_E = TypeVar("_E", bound=StrEnum)
_WHEN_KEYS = {"urgency", "topics_any", "queues", "sources", "template"}
_APPROVAL_VALUES = {"required": True, "none": False}
_PLACEHOLDER = re.compile(r"\{([a-z][a-z0-9_]{0,31})\}")
_BRACES = re.compile(r"[{}]")
MAX_VARIABLE_LENGTH = 200
FALLBACK_LANGUAGE = "en"
# The rule named when no approval rule matches.
DEFAULT_APPROVAL_RULE = "default"


class ReplyPolicyError(ValueError):
    """A `replies` section that cannot be used; the message names the entry and field."""


class ReplyRefused(ValueError):
    """A reply that cannot be made as asked: the request field and why."""

    def __init__(self, field: str, detail: str) -> None:
        super().__init__(detail)
        self.field, self.detail = field, detail


@dataclass(frozen=True)
class ReplyCase:
    """What approval rules look at: the item's urgency, topics, queue and source, and
    whether the reply is a template answer."""

    urgency: Urgency
    topics: frozenset[str]
    queue_id: str
    source: Source
    template: bool


@dataclass(frozen=True)
class ApprovalRule:
    """Whether replies that match need a supervisor's approval."""

    name: str
    required: bool
    urgency: frozenset[Urgency] | None = None
    topics_any: frozenset[str] | None = None
    queues: tuple[str, ...] | None = None
    sources: frozenset[Source] | None = None
    template: bool | None = None

    def matches(self, case: ReplyCase) -> bool:
        """True when every condition this rule states holds."""
        return (
            (self.urgency is None or case.urgency in self.urgency)
            and (self.topics_any is None or bool(self.topics_any & case.topics))
            and (
                self.queues is None
                or any(fnmatch.fnmatchcase(case.queue_id, q) for q in self.queues)
            )
            and (self.sources is None or case.source in self.sources)
            and (self.template is None or self.template is case.template)
        )


@dataclass(frozen=True)
class Template:
    """A canned answer: its text per language and the variables it needs."""

    template_id: str
    texts: dict[str, str]
    variables: frozenset[str]

    def render(self, language: str | None, values: Mapping[str, str]) -> tuple[str, str]:
        """(text, language used): the item's language when the template has it, else English."""
        unknown = set(values) - self.variables
        if unknown:
            raise ReplyRefused(
                f"body.variables.{sorted(unknown)[0]}",
                f"template {self.template_id!r} has no variable {sorted(unknown)[0]!r}; "
                f"it takes {sorted(self.variables)}",
            )
        missing = self.variables - set(values)
        if missing:
            raise ReplyRefused(
                f"body.variables.{sorted(missing)[0]}",
                f"template {self.template_id!r} needs {sorted(missing)}",
            )
        for name, value in values.items():
            if not isinstance(value, str) or not value.strip():
                raise ReplyRefused(f"body.variables.{name}", "a non-empty string is required")
            if len(value) > MAX_VARIABLE_LENGTH:
                raise ReplyRefused(
                    f"body.variables.{name}", f"at most {MAX_VARIABLE_LENGTH} characters"
                )
            if _BRACES.search(value):
                raise ReplyRefused(f"body.variables.{name}", "braces are not allowed in a value")
        used = language if language in self.texts else FALLBACK_LANGUAGE
        if used not in self.texts:
            used = sorted(self.texts)[0]
        text = _PLACEHOLDER.sub(lambda m: values[m.group(1)], self.texts[used])
        return text, used


@dataclass(frozen=True)
class Approval:
    """The approval decision for one reply, and the rule that made it."""

    required: bool
    rule: str


@dataclass(frozen=True)
class ReplyPolicy:
    """The validated `replies` section."""

    limits: dict[Source, int] = field(default_factory=dict)
    approval: tuple[ApprovalRule, ...] = ()
    hold_seconds: float = 0.0
    templates: dict[str, Template] = field(default_factory=dict)
    answered_target: tuple[tuple[str, float], ...] = ()

    def target_for(self, queue_id: str) -> float | None:
        """The answered share a queue should reach, or None."""
        for pattern, share in self.answered_target:
            if fnmatch.fnmatchcase(queue_id, pattern):
                return share
        return None

    def limit_for(self, source: Source) -> int:
        """The platform's length limit; ReplyRefused when the source cannot be answered."""
        limit = self.limits.get(source)
        if limit is None:
            raise ReplyRefused(
                "item.source",
                f"mentions from {source.value!r} cannot be answered from Switchboard "
                f"(answerable: {', '.join(sorted(s.value for s in self.limits)) or 'none'})",
            )
        return limit

    def check_text(self, source: Source, text: str, field_name: str = "body.text") -> None:
        """ReplyRefused when the text is empty or longer than the platform takes."""
        limit = self.limit_for(source)
        if not text.strip():
            raise ReplyRefused(field_name, "the reply is empty")
        if len(text) > limit:
            raise ReplyRefused(
                field_name,
                f"{len(text)} characters; {source.value} takes at most {limit}",
            )

    def approval_for(self, case: ReplyCase) -> Approval:
        """Whether a reply on this item needs approval: the first matching rule, else yes."""
        for rule in self.approval:
            if rule.matches(case):
                return Approval(rule.required, rule.name)
        return Approval(True, DEFAULT_APPROVAL_RULE)

    def template(self, template_id: str) -> Template:
        """The template, or ReplyRefused naming the field."""
        found = self.templates.get(template_id)
        if found is None:
            raise ReplyRefused(
                "body.template_id",
                f"no template {template_id!r}; known: {sorted(self.templates)}",
            )
        return found


# Which reply states a step may start from. `approved` is only editable or
# cancellable while the reply has not yet been handed to the responder (the
# service checks that separately).
EDITABLE = frozenset({ReplyStatus.DRAFT, ReplyStatus.PENDING_APPROVAL, ReplyStatus.APPROVED})
SUBMITTABLE = frozenset({ReplyStatus.DRAFT})
DECIDABLE = frozenset({ReplyStatus.PENDING_APPROVAL})
CANCELLABLE = frozenset(
    {
        ReplyStatus.DRAFT,
        ReplyStatus.PENDING_APPROVAL,
        ReplyStatus.APPROVED,
        ReplyStatus.FAILED_RETRYABLE,
        ReplyStatus.UNKNOWN,
    }
)
# A person retries after looking: a retryable failure, or an unknown outcome
# once they have checked the thread and found no post of ours.
RETRYABLE = frozenset({ReplyStatus.FAILED_RETRYABLE, ReplyStatus.UNKNOWN})
# Where the responder's reports may move a reply from, for the attempt in flight.
_REPORTABLE = {
    ReplyStatus.SENDING: frozenset({ReplyStatus.APPROVED, ReplyStatus.SENDING}),
    ReplyStatus.SENT: frozenset(
        {
            ReplyStatus.APPROVED,
            ReplyStatus.SENDING,
            ReplyStatus.UNKNOWN,
            ReplyStatus.FAILED_RETRYABLE,
        }
    ),
    ReplyStatus.FAILED_RETRYABLE: frozenset({ReplyStatus.APPROVED, ReplyStatus.SENDING}),
    ReplyStatus.FAILED_PERMANENT: frozenset({ReplyStatus.APPROVED, ReplyStatus.SENDING}),
    ReplyStatus.UNKNOWN: frozenset({ReplyStatus.APPROVED, ReplyStatus.SENDING}),
}


def outcome_applies(current: ReplyStatus, reported: ReplyStatus) -> bool:
    """True when the responder's report for the current attempt moves the reply.

    Reports can arrive late or twice (at-least-once): a `sending` after `sent`
    changes nothing, and `sent` wins over a failure reported earlier for the
    same attempt (the platform has the post, whatever we thought before).
    """
    return current in _REPORTABLE.get(reported, frozenset())


def parse_replies(raw: Any) -> ReplyPolicy:
    """Validate the `replies` section (absent: nothing can be answered)."""
    if raw is None:
        return ReplyPolicy()
    if not isinstance(raw, dict):
        raise ReplyPolicyError("replies: a mapping is required")
    refuse_unknown("replies", raw, _TOP_KEYS, ReplyPolicyError)
    return ReplyPolicy(
        limits=_parse_limits(raw.get("limits")),
        approval=tuple(
            _parse_rule(i, entry)
            for i, entry in enumerate(_list("replies.approval", raw.get("approval")))
        ),
        hold_seconds=_parse_hold(raw.get("hold_seconds", 0)),
        templates=_parse_templates(raw.get("templates")),
        answered_target=_parse_targets(raw.get("answered_target")),
    )


def _parse_targets(raw: Any) -> tuple[tuple[str, float], ...]:
    targets = mapping_or_empty(
        "replies.answered_target", raw, "a mapping of queue glob -> share", ReplyPolicyError
    )
    out = []
    for pattern, share in targets.items():
        if not isinstance(pattern, str) or not pattern:
            raise ReplyPolicyError("replies.answered_target: queue ids or globs are required")
        if isinstance(share, bool) or not isinstance(share, (int, float)) or not 0 <= share <= 1:
            raise ReplyPolicyError(f"replies.answered_target.{pattern}: a share from 0 to 1")
        out.append((pattern, float(share)))
    return tuple(out)


def _list(where: str, value: Any) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ReplyPolicyError(f"{where}: a list is required")
    return value


def _parse_limits(raw: Any) -> dict[Source, int]:
    by_source = mapping_or_empty(
        "replies.limits", raw, "a mapping of source -> characters is required", ReplyPolicyError
    )
    limits: dict[Source, int] = {}
    for name, value in by_source.items():
        try:
            source = Source(name)
        except ValueError:
            raise ReplyPolicyError(
                f"replies.limits.{name}: not a source ({', '.join(s.value for s in Source)})"
            ) from None
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 100_000:
            raise ReplyPolicyError(
                f"replies.limits.{name}: a whole number of characters is required"
            )
        limits[source] = value
    return limits


def _parse_hold(raw: Any) -> float:
    if isinstance(raw, bool) or not isinstance(raw, (int, float)) or not 0 <= raw <= 3600:
        raise ReplyPolicyError(
            "replies.hold_seconds: a number of seconds from 0 to 3600 is required"
        )
    return float(raw)


def _strings(where: str, value: Any) -> frozenset[str]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise ReplyPolicyError(f"{where}: a non-empty list of strings is required")
    return frozenset(value)


def _members(kind: type[_E], where: str, value: Any, refusal: str) -> frozenset[_E]:
    """A condition's values, each one of `kind`'s (else `{where}: {refusal}`)."""
    try:
        return frozenset(kind(v) for v in _strings(where, value))
    except ValueError:
        raise ReplyPolicyError(f"{where}: {refusal}") from None


def _parse_rule(index: int, raw: Any) -> ApprovalRule:
    name = named_entry(f"replies.approval[{index}]", raw, ReplyPolicyError)
    where = f"replies.approval {name!r}"
    refuse_unknown(where, raw, _RULE_KEYS, ReplyPolicyError)
    decision = raw.get("approval")
    if decision not in _APPROVAL_VALUES:
        raise ReplyPolicyError(f"{where}.approval: `required` or `none` is required")
    when = raw.get("when") or {}
    if not isinstance(when, dict):
        raise ReplyPolicyError(f"{where}.when: a mapping is required")
    refuse_unknown(f"{where}.when", when, _WHEN_KEYS, ReplyPolicyError)
    urgency = sources = None
    if "urgency" in when:
        urgency = _members(
            Urgency, f"{where}.when.urgency", when["urgency"], "critical, high, normal or low"
        )
    if "sources" in when:
        sources = _members(Source, f"{where}.when.sources", when["sources"], "unknown source")
    template = when.get("template")
    if template is not None and not isinstance(template, bool):
        raise ReplyPolicyError(f"{where}.when.template: true or false is required")
    return ApprovalRule(
        name=name,
        required=_APPROVAL_VALUES[decision],
        urgency=urgency,
        topics_any=_strings(f"{where}.when.topics_any", when["topics_any"])
        if "topics_any" in when
        else None,
        queues=tuple(sorted(_strings(f"{where}.when.queues", when["queues"])))
        if "queues" in when
        else None,
        sources=sources,
        template=template,
    )


_TEMPLATE_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_LANGUAGE = re.compile(r"^[a-z]{2,3}$")


def _parse_templates(raw: Any) -> dict[str, Template]:
    by_id = mapping_or_empty(
        "replies.templates", raw, "a mapping of id -> texts is required", ReplyPolicyError
    )
    templates: dict[str, Template] = {}
    for template_id, texts in by_id.items():
        where = f"replies.templates.{template_id}"
        if not isinstance(template_id, str) or not _TEMPLATE_ID.match(template_id):
            raise ReplyPolicyError(f"{where}: an id of a-z, 0-9, '-' and '_' is required")
        if not isinstance(texts, dict) or not texts:
            raise ReplyPolicyError(f"{where}: a mapping of language -> text is required")
        variables: frozenset[str] | None = None
        for language, text in texts.items():
            if not isinstance(language, str) or not _LANGUAGE.match(language):
                raise ReplyPolicyError(f"{where}.{language}: a language code such as en or es")
            if not isinstance(text, str) or not text.strip():
                raise ReplyPolicyError(f"{where}.{language}: a non-empty text is required")
            named = frozenset(_PLACEHOLDER.findall(text))
            if _BRACES.sub("", _PLACEHOLDER.sub("", text)) != _PLACEHOLDER.sub("", text):
                raise ReplyPolicyError(
                    f"{where}.{language}: only {{name}} placeholders (a-z, 0-9, _) are allowed"
                )
            if variables is not None and named != variables:
                raise ReplyPolicyError(
                    f"{where}.{language}: uses {sorted(named)}, other languages {sorted(variables)}"
                )
            variables = named
        templates[template_id] = Template(template_id, dict(texts), variables or frozenset())
    return templates
