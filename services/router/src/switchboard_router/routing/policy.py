"""The router's pure core: which queue a classified mention goes to, and why.

A policy is loaded from YAML and validated whole (errors name the rule and
field). It has these parts:

- `rules`, in order. Each rule has conditions (`when`) and actions. A rule
  with a `queue` is *terminal*: the first terminal rule that matches places
  the item. A rule without a `queue` only *tags* (raises priority, adds watch
  queues) and evaluation continues, so cross-cutting concerns ("copy anything
  from a verified account with a big following to media-watch") do not have
  to be repeated in every placing rule.
- `default_queue` when no terminal rule matches.
- `queues`: per-queue settings by id or glob (assignment mode, supervisor
  queue); the database may override them per queue.
- `sla`: deadlines and escalation ladders (see `sla.py`).
- `districts`: the known districts (id -> other spellings). Only these reach
  `when.districts` and the `{district}` of a queue template. A district is
  free text a mention's author states, so an unknown one is left as text on
  the item and routes as if there were none: otherwise anyone could make new
  queues at will, or one whose id is longer than the store's 64-character
  column, which PostgreSQL refuses.
- `transfers`: where an officer may move an item, by the queue it is in;
  supervisors may move any item anywhere.

The district used is the classifier's when it is a known one (a later
classifier resolves place names), else the mention's when that is known.
Every queue id a template builds is checked before it is used.

No Kafka, no database, no HTTP here.
"""

from __future__ import annotations

import fnmatch
import re
import string
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from switchboard_router.routing.assignment import AssignmentMode
from switchboard_router.routing.sla import SUPERVISOR, Sla, SlaError, find_sla, parse_slas
from switchboard_shared.events import Classification, MentionIn, Urgency

DEFAULT_RULE = "default"
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
_QUEUE_KEYS = {"assignment", "supervisor_queue"}
_TOP_KEYS = {"version", "default_queue", "rules", "queues", "sla", "districts", "transfers"}
_TRANSFER_KEYS = {"supervisor_urgency", "allowed"}
_TEMPLATE_FIELDS = {"district", "source", "language", "urgency"}
_QUEUE_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
# Short enough that "district-{district}" and the like stay within a queue id's 64 characters.
_DISTRICT_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")
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


def _district_key(value: str) -> str:
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
        if stated and len(stated) <= 256 and (found := districts.get(_district_key(stated))):
            district = found
            break
    language = getattr(classification, "language", None) or mention.language
    return {
        "district": district,
        "source": mention.source.value,
        "language": language,
        "urgency": classification.urgency.value,
    }


@dataclass(frozen=True)
class QueueSettings:
    """Settings of the queues whose ids match `pattern`."""

    pattern: str
    assignment: AssignmentMode = AssignmentMode.OPEN
    supervisor_queue: str | None = None


@dataclass(frozen=True)
class Transfers:
    """Where officers (not supervisors) may move items: by the queue an item is in.

    `allowed` is (source queue glob, destination globs) in order, first match;
    a queue no entry matches lets nothing leave without a supervisor, and so
    does an item whose urgency is in `supervisor_urgency`.
    """

    allowed: tuple[tuple[str, tuple[str, ...]], ...] = ()
    supervisor_urgency: frozenset[Urgency] = frozenset()

    def allows(self, from_queue: str, to_queue: str, urgency: Urgency) -> bool:
        """True when an officer may move an item of `urgency` from `from_queue` to `to_queue`."""
        if from_queue == to_queue:
            return True
        if urgency in self.supervisor_urgency:
            return False
        for pattern, targets in self.allowed:
            if fnmatch.fnmatchcase(from_queue, pattern):
                return any(fnmatch.fnmatchcase(to_queue, t) for t in targets)
        return False


@dataclass(frozen=True)
class Policy:
    """A validated routing policy."""

    version: str
    default_queue: str
    rules: tuple[Rule, ...]
    queues: tuple[QueueSettings, ...] = ()
    slas: tuple[Sla, ...] = ()
    # A district's name or alias as `_district_key` spells it -> its id.
    districts: dict[str, str] = field(default_factory=dict)
    transfers: Transfers = field(default_factory=Transfers)

    def explain(self, mention: MentionIn, classification: Classification) -> Decision:
        """The decision for one classified mention, with every rule's verdict."""
        facts = facts_of(mention, classification, self.districts)
        values = {k: queue_slug(v) for k, v in facts.items() if v}
        trace: list[Step] = []
        boost = 0
        watch: list[str] = []
        tagged: list[str] = []
        for rule in self.rules:
            why_not = rule.mismatch(facts, mention, classification)
            if why_not is None and rule.queue is not None:
                try:
                    queue = rule.queue.format(**values)
                except KeyError as exc:
                    why_not = f"queue: the template needs {exc.args[0]}, which this mention lacks"
                else:
                    if not is_queue_id(queue):
                        why_not = f"queue: {queue[:80]!r} is not a valid queue id"
            if why_not is not None:
                trace.append(Step(rule.name, "skipped", why_not))
                continue
            boost += rule.raise_priority
            watch += [w for w in rule.watch if w not in watch]
            if rule.queue is None:
                tagged.append(rule.name)
                trace.append(Step(rule.name, "tagged", "conditions hold; evaluation continues"))
                continue
            trace.append(Step(rule.name, "placed", f"conditions hold; queue {queue}"))
            return self._decision(queue, rule.name, boost, watch, tagged, trace)
        trace.append(Step(DEFAULT_RULE, "placed", f"no rule placed it; queue {self.default_queue}"))
        return self._decision(self.default_queue, DEFAULT_RULE, boost, watch, tagged, trace)

    @staticmethod
    def _decision(
        queue: str, rule: str, boost: int, watch: list[str], tagged: list[str], trace: list[Step]
    ) -> Decision:
        return Decision(
            queue_id=queue,
            rule=rule,
            priority_boost=min(boost, MAX_BOOST),
            watch_queues=tuple(w for w in watch if w != queue),
            tagged_by=tuple(tagged),
            trace=tuple(trace),
        )

    def route(self, mention: MentionIn, classification: Classification) -> Decision:
        """The queue (and tags) for one classified mention."""
        return self.explain(mention, classification)

    def may_transfer(self, from_queue: str, to_queue: str, urgency: Urgency) -> bool:
        """True when an officer (not a supervisor) may move such an item there."""
        return self.transfers.allows(from_queue, to_queue, urgency)

    def queue_settings(self, queue_id: str) -> QueueSettings:
        """The settings of `queue_id`: the first matching `queues` entry, else open pool."""
        for settings in self.queues:
            if fnmatch.fnmatchcase(queue_id, settings.pattern):
                return settings
        return QueueSettings(pattern=queue_id)

    def sla_for(self, queue_id: str, urgency: Urgency) -> Sla | None:
        """The SLA covering items of `queue_id` with `urgency`, if any."""
        return find_sla(self.slas, queue_id, urgency)

    @property
    def named_queues(self) -> frozenset[str]:
        """Every queue id the policy names outright (templates and globs left out)."""
        named = {self.default_queue}
        for rule in self.rules:
            named.update(rule.watch)
            if rule.queue is not None and is_queue_id(rule.queue):
                named.add(rule.queue)
        for settings in self.queues:
            if is_queue_id(settings.pattern):
                named.add(settings.pattern)
            if settings.supervisor_queue is not None:
                named.add(settings.supervisor_queue)
        for sla in self.slas:
            named.update(q for q in sla.queues if is_queue_id(q))
            named.update(t.move_to for t in sla.ladder if t.move_to and t.move_to != SUPERVISOR)
        return frozenset(named)

    @classmethod
    def from_mapping(cls, data: Any) -> Policy:
        """Validate a parsed policy; raise PolicyError naming the rule and field."""
        if not isinstance(data, dict):
            raise PolicyError("the policy must be a mapping")
        unknown = set(data) - _TOP_KEYS
        if unknown:
            raise PolicyError(f"unknown top-level fields {sorted(unknown)}")
        version = data.get("version")
        if not isinstance(version, str) or not version:
            raise PolicyError("version: a non-empty string is required")
        default_queue = data.get("default_queue")
        if not isinstance(default_queue, str) or not is_queue_id(default_queue):
            raise PolicyError("default_queue: a queue id (a-z, 0-9, dashes) is required")
        raw_rules = data.get("rules", [])
        if not isinstance(raw_rules, list):
            raise PolicyError("rules: a list is required")
        districts = _parse_districts(data.get("districts"))
        rules = []
        seen: set[str] = set()
        for index, raw in enumerate(raw_rules):
            rule = _parse_rule(index, raw, districts)
            if rule.name in seen:
                raise PolicyError(f"rule {rule.name!r}.name: duplicate rule name")
            seen.add(rule.name)
            rules.append(rule)
        queues = _parse_queues(data.get("queues"))
        try:
            slas = parse_slas(data.get("sla"), queue_ids_ok=is_queue_id)
        except SlaError as exc:
            raise PolicyError(str(exc)) from exc
        return cls(
            version=version,
            default_queue=default_queue,
            rules=tuple(rules),
            queues=queues,
            slas=slas,
            districts=districts,
            transfers=_parse_transfers(data.get("transfers")),
        )

    @classmethod
    def parse(cls, text: str) -> Policy:
        """Validate a policy from YAML text."""
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise PolicyError(f"not valid YAML: {exc}") from exc
        return cls.from_mapping(data)

    @classmethod
    def load(cls, path: Path | None = None) -> Policy:
        """The policy at `path`, or the one shipped with the router."""
        if path is None:
            text = resources.files(__package__).joinpath("routing.yaml").read_text("utf-8")
        else:
            text = path.read_text("utf-8")
        return cls.parse(text)


def _string_list(where: str, value: Any) -> frozenset[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise PolicyError(f"{where}: a list of strings is required")
    return frozenset(value)


def _parse_rule(index: int, raw: Any, known_districts: dict[str, str]) -> Rule:
    where = f"rules[{index}]"
    if not isinstance(raw, dict):
        raise PolicyError(f"{where}: a mapping is required")
    name = raw.get("name")
    if not isinstance(name, str) or not name:
        raise PolicyError(f"{where}.name: a non-empty string is required")
    where = f"rule {name!r}"
    unknown = set(raw) - _RULE_KEYS
    if unknown:
        raise PolicyError(f"{where}: unknown fields {sorted(unknown)}")
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
    watch = sorted(_string_list(f"{where}.watch", raw.get("watch", [])))
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
        k: _string_list(f"{where}.when.{k}", v) for k, v in when.items() if k in _LIST_CONDITIONS
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
        strangers = sorted(d for d in districts or () if _district_key(d) not in known_districts)
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
        else frozenset(known_districts[_district_key(d)] for d in districts),
        sources=lists.get("sources"),
        languages=lists.get("languages"),
        has=lists.get("has", frozenset()),
        author_verified=verified,
        author_min_followers=followers,
        text_matches=compiled,
        raise_priority=boost,
        watch=tuple(watch),
    )


def _parse_queues(raw: Any) -> tuple[QueueSettings, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, dict):
        raise PolicyError("queues: a mapping of queue id (or glob) to settings is required")
    out = []
    for pattern, entry in raw.items():
        where = f"queues[{pattern!r}]"
        if not isinstance(pattern, str) or not pattern:
            raise PolicyError(f"{where}: a queue id or glob is required")
        if not isinstance(entry, dict):
            raise PolicyError(f"{where}: a mapping is required")
        unknown = set(entry) - _QUEUE_KEYS
        if unknown:
            raise PolicyError(f"{where}: unknown fields {sorted(unknown)}")
        try:
            mode = AssignmentMode(entry.get("assignment", "open"))
        except ValueError as exc:
            raise PolicyError(f"{where}.assignment: {exc}") from exc
        supervisor = entry.get("supervisor_queue")
        if supervisor is not None and (
            not isinstance(supervisor, str) or not is_queue_id(supervisor)
        ):
            raise PolicyError(f"{where}.supervisor_queue: a queue id is required")
        out.append(QueueSettings(pattern=pattern, assignment=mode, supervisor_queue=supervisor))
    return tuple(out)


def _parse_districts(raw: Any) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise PolicyError("districts: a mapping of district id to its other spellings is required")
    out: dict[str, str] = {}
    for district, aliases in raw.items():
        where = f"districts[{district!r}]"
        if not isinstance(district, str) or not _DISTRICT_ID.match(district):
            raise PolicyError(f"{where}: a district id (a-z, 0-9, dashes, at most 32) is required")
        names = _string_list(where, [] if aliases is None else aliases)
        for name in sorted(names | {district}):
            key = _district_key(name)
            if not key:
                raise PolicyError(f"{where}: {name!r} has no letters or digits")
            if out.get(key, district) != district:
                raise PolicyError(f"{where}: {name!r} already names district {out[key]!r}")
            out[key] = district
    return out


def _parse_transfers(raw: Any) -> Transfers:
    if raw is None:
        return Transfers()
    if not isinstance(raw, dict):
        raise PolicyError("transfers: a mapping is required")
    unknown = set(raw) - _TRANSFER_KEYS
    if unknown:
        raise PolicyError(f"transfers: unknown fields {sorted(unknown)}")
    try:
        urgency = frozenset(
            Urgency(u)
            for u in _string_list("transfers.supervisor_urgency", raw.get("supervisor_urgency", []))
        )
    except ValueError as exc:
        raise PolicyError(f"transfers.supervisor_urgency: {exc}") from exc
    allowed = raw.get("allowed", {})
    if not isinstance(allowed, dict):
        raise PolicyError("transfers.allowed: a mapping of queue id (or glob) to destinations")
    entries = []
    for pattern, targets in allowed.items():
        where = f"transfers.allowed[{pattern!r}]"
        if not isinstance(pattern, str) or not pattern:
            raise PolicyError(f"{where}: a queue id or glob is required")
        names = _string_list(where, [] if targets is None else targets)
        entries.append((pattern, tuple(sorted(names))))
    return Transfers(allowed=tuple(entries), supervisor_urgency=urgency)
