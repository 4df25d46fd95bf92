"""One routing rule: its conditions, how it is read from the policy file, and
the verdicts it gives while a decision is explained (pure: no I/O)."""

from __future__ import annotations

import re
import string
from dataclasses import dataclass, field
from typing import Any

from switchboard_router.routing.parsing import named_entry, refuse_unknown
from switchboard_shared.events import Classification, MentionIn, Urgency

_LIST_CONDITIONS = {
    "urgency",
    "topics_any",
    "topics_all",
    "districts",
    "sources",
    "languages",
    "has",
}
_CONDITIONS = _LIST_CONDITIONS | {"author_verified", "author_min_followers", "text_matches"}
_RULE_KEYS = {"name", "when", "queue", "raise_priority", "watch"}
_TEMPLATE_FIELDS = {"district", "source", "language", "urgency"}
_QUEUE_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
MAX_BOOST = 3


class PolicyError(ValueError):
    """A routing policy that cannot be used; the message names the rule and field."""


def queue_slug(value: str) -> str:
    """A queue id made safe from free text: lower-case letters, digits and dashes."""
    slug = re.sub(r"[^a-z0-9]+", "-", value.lower()).strip("-")
    return slug[:64] or "unknown"


def is_queue_id(value: str) -> bool:
    """True when `value` is a valid queue id."""
    return bool(_QUEUE_ID.match(value))


def district_key(value: str) -> str:
    # Not truncated (unlike queue_slug): a long string must not shorten into a known name.
    return re.sub(r"[^a-z0-9]+", "-", value.lower()).strip("-")


@dataclass(frozen=True)
class Step:
    """One rule's verdict while explaining a decision."""

    rule: str
    outcome: str  # placed, tagged, skipped
    reason: str


@dataclass(frozen=True)
class Decision:
    """Where a mention goes, which rule sent it there, and what the tagging rules added."""

    queue_id: str
    rule: str
    priority_boost: int = 0
    watch_queues: tuple[str, ...] = ()
    tagged_by: tuple[str, ...] = ()
    trace: tuple[Step, ...] = field(default=(), compare=False)


@dataclass(frozen=True)
class Rule:
    """One routing rule: conditions and actions."""

    name: str
    queue: str | None
    urgency: frozenset[Urgency] | None = None
    topics_any: frozenset[str] | None = None
    topics_all: frozenset[str] | None = None
    districts: frozenset[str] | None = None
    sources: frozenset[str] | None = None
    languages: frozenset[str] | None = None
    has: frozenset[str] = frozenset()
    author_verified: bool | None = None
    author_min_followers: int | None = None
    text_matches: re.Pattern[str] | None = None
    raise_priority: int = 0
    watch: tuple[str, ...] = ()

    def mismatch(
        self, facts: dict[str, str | None], mention: MentionIn, c: Classification
    ) -> str | None:
        """Why this rule does not match (the first failing condition), or None when it does."""
        topics = set(c.topics)
        if self.urgency is not None and c.urgency not in self.urgency:
            return f"when.urgency: {c.urgency.value} not in {sorted(u.value for u in self.urgency)}"
        if self.topics_any is not None and not topics & self.topics_any:
            return f"when.topics_any: none of {sorted(self.topics_any)}"
        if self.topics_all is not None and not self.topics_all <= topics:
            return f"when.topics_all: missing {sorted(self.topics_all - topics)}"
        if self.districts is not None and facts["district"] not in self.districts:
            return f"when.districts: {facts['district']!r} not listed"
        if self.sources is not None and mention.source.value not in self.sources:
            return f"when.sources: {mention.source.value} not listed"
        if self.languages is not None and (facts["language"] or "") not in self.languages:
            return f"when.languages: {facts['language']!r} not listed"
        for name in sorted(self.has):
            if not facts.get(name):
                if name == "district" and (mention.district or getattr(c, "district", None)):
                    return "when.has: no known district (the stated one is not in `districts`)"
                return f"when.has: no {name}"
        author = mention.author
        if (
            self.author_verified is not None
            and (author is not None and author.verified) != self.author_verified
        ):
            return f"when.author_verified: not {self.author_verified}"
        if self.author_min_followers is not None and (
            author is None or (author.follower_count or 0) < self.author_min_followers
        ):
            return f"when.author_min_followers: fewer than {self.author_min_followers}"
        if self.text_matches is not None and not self.text_matches.search(mention.text):
            return "when.text_matches: no match"
        return None


def facts_of(
    mention: MentionIn, classification: Classification, districts: dict[str, str]
) -> dict[str, str | None]:
    """The values rules and queue templates see; a known district of the classifier's wins."""
    district = None
    for stated in (getattr(classification, "district", None), mention.district):
        if stated and len(stated) <= 256 and (found := districts.get(district_key(stated))):
            district = found
            break
    language = getattr(classification, "language", None) or mention.language
    return {
        "district": district,
        "source": mention.source.value,
        "language": language,
        "urgency": classification.urgency.value,
    }


def string_list(where: str, value: Any) -> frozenset[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise PolicyError(f"{where}: a list of strings is required")
    return frozenset(value)


def parse_rule(index: int, raw: Any, known_districts: dict[str, str]) -> Rule:
    name = named_entry(f"rules[{index}]", raw, PolicyError)
    where = f"rule {name!r}"
    refuse_unknown(where, raw, _RULE_KEYS, PolicyError)
    queue = raw.get("queue")
    if queue is not None:
        if not isinstance(queue, str) or not queue:
            raise PolicyError(f"{where}.queue: a queue id or template is required")
        placeholders = {f for _, f, _, _ in string.Formatter().parse(queue) if f is not None}
        if placeholders - _TEMPLATE_FIELDS:
            raise PolicyError(
                f"{where}.queue: unknown placeholders {sorted(placeholders - _TEMPLATE_FIELDS)}"
            )
        if not placeholders and not is_queue_id(queue):
            raise PolicyError(f"{where}.queue: a queue id (a-z, 0-9, dashes) is required")
        if "district" in placeholders and not known_districts:
            raise PolicyError(f"{where}.queue: {{district}} needs the policy's `districts`")
    boost = raw.get("raise_priority", 0)
    if isinstance(boost, bool) or not isinstance(boost, int) or not 0 <= boost <= MAX_BOOST:
        raise PolicyError(f"{where}.raise_priority: an integer 0..{MAX_BOOST} is required")
    watch = sorted(string_list(f"{where}.watch", raw.get("watch", [])))
    bad = [w for w in watch if not is_queue_id(w)]
    if bad:
        raise PolicyError(f"{where}.watch: not queue ids {bad}")
    if queue is None and not boost and not watch:
        raise PolicyError(f"{where}.queue: required unless the rule raises priority or watches")
    when = raw.get("when", {})
    if not isinstance(when, dict):
        raise PolicyError(f"{where}.when: a mapping is required")
    unknown = set(when) - _CONDITIONS
    if unknown:
        raise PolicyError(f"{where}.when: unknown conditions {sorted(unknown)}")
    lists = {
        k: string_list(f"{where}.when.{k}", v) for k, v in when.items() if k in _LIST_CONDITIONS
    }
    urgency = None
    if "urgency" in lists:
        try:
            urgency = frozenset(Urgency(u) for u in lists["urgency"])
        except ValueError as exc:
            raise PolicyError(f"{where}.when.urgency: {exc}") from exc
    if not lists.get("has", frozenset()) <= _TEMPLATE_FIELDS:
        raise PolicyError(f"{where}.when.has: only {sorted(_TEMPLATE_FIELDS)} can be required")
    verified = when.get("author_verified")
    if verified is not None and not isinstance(verified, bool):
        raise PolicyError(f"{where}.when.author_verified: true or false is required")
    followers = when.get("author_min_followers")
    if followers is not None and (
        isinstance(followers, bool) or not isinstance(followers, int) or followers < 0
    ):
        raise PolicyError(f"{where}.when.author_min_followers: a non-negative integer is required")
    pattern = when.get("text_matches")
    compiled = None
    if pattern is not None:
        if not isinstance(pattern, str):
            raise PolicyError(f"{where}.when.text_matches: a regular expression is required")
        try:
            compiled = re.compile(pattern)
        except re.error as exc:
            raise PolicyError(f"{where}.when.text_matches: {exc}") from exc
    districts = lists.get("districts")
    if districts is not None or "district" in lists.get("has", frozenset()):
        if not known_districts:
            raise PolicyError(f"{where}.when: district conditions need the policy's `districts`")
        strangers = sorted(d for d in districts or () if district_key(d) not in known_districts)
        if strangers:
            raise PolicyError(
                f"{where}.when.districts: not in the policy's `districts`: {strangers}"
            )
    return Rule(
        name=name,
        queue=queue,
        urgency=urgency,
        topics_any=lists.get("topics_any"),
        topics_all=lists.get("topics_all"),
        districts=None
        if districts is None
        else frozenset(known_districts[district_key(d)] for d in districts),
        sources=lists.get("sources"),
        languages=lists.get("languages"),
        has=lists.get("has", frozenset()),
        author_verified=verified,
        author_min_followers=followers,
        text_matches=compiled,
        raise_priority=boost,
        watch=tuple(watch),
    )
