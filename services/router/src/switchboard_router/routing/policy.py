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
- `replies`: answering citizens: platform limits, which replies need a
  supervisor's approval, the hold before sending, templates
  (`replies/policy.py`).

The district used is the classifier's when it is a known one (a later
classifier resolves place names), else the mention's when that is known.
Every queue id a template builds is checked before it is used.

No Kafka, no database, no HTTP here.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from switchboard_router.replies.policy import ReplyPolicy, ReplyPolicyError, parse_replies
from switchboard_router.routing.assignment import AssignmentMode
from switchboard_router.routing.parsing import mapping_or_empty, refuse_unknown
from switchboard_router.routing.rules import (
    MAX_BOOST,
    Decision,
    PolicyError,
    Rule,
    Step,
    district_key,
    facts_of,
    is_queue_id,
    parse_rule,
    queue_slug,
    string_list,
)
from switchboard_router.routing.sla import SUPERVISOR, Sla, SlaError, find_sla, parse_slas
from switchboard_shared.config_files import parse_yaml, text_or_shipped
from switchboard_shared.events import Classification, MentionIn, Urgency

DEFAULT_RULE = "default"
_QUEUE_KEYS = {"assignment", "supervisor_queue"}
_TOP_KEYS = {
    "version",
    "default_queue",
    "rules",
    "queues",
    "sla",
    "districts",
    "transfers",
    "replies",
}
_TRANSFER_KEYS = {"supervisor_urgency", "allowed"}
# Short enough that "district-{district}" and the like stay within a queue id's 64 characters.
_DISTRICT_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")


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
    # What a reply to a citizen must satisfy: limits, approval, templates (replies/policy.py).
    replies: ReplyPolicy = field(default_factory=ReplyPolicy)

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

    def claim_due(self, queue_id: str, urgency: Urgency, since: datetime) -> datetime | None:
        """When an item entering the pool of `queue_id` at `since` must be claimed."""
        sla = self.sla_for(queue_id, urgency)
        return None if sla is None else sla.claim_due(since)

    def ack_due(self, queue_id: str, urgency: Urgency, claimed_at: datetime) -> datetime | None:
        """When an item claimed at `claimed_at` must be acknowledged."""
        sla = self.sla_for(queue_id, urgency)
        return None if sla is None else sla.ack_due(claimed_at)

    def settings_for(
        self, queue_id: str, *, assignment_mode: str | None, supervisor_queue: str | None
    ) -> QueueSettings:
        """A queue's settings: what the database stores for it, else the policy's."""
        policy = self.queue_settings(queue_id)
        return QueueSettings(
            pattern=queue_id,
            assignment=AssignmentMode(assignment_mode) if assignment_mode else policy.assignment,
            supervisor_queue=supervisor_queue or policy.supervisor_queue,
        )

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
            rule = parse_rule(index, raw, districts)
            if rule.name in seen:
                raise PolicyError(f"rule {rule.name!r}.name: duplicate rule name")
            seen.add(rule.name)
            rules.append(rule)
        queues = _parse_queues(data.get("queues"))
        try:
            slas = parse_slas(data.get("sla"), queue_ids_ok=is_queue_id)
        except SlaError as exc:
            raise PolicyError(str(exc)) from exc
        try:
            replies = parse_replies(data.get("replies"))
        except ReplyPolicyError as exc:
            raise PolicyError(str(exc)) from exc
        return cls(
            version=version,
            default_queue=default_queue,
            rules=tuple(rules),
            queues=queues,
            slas=slas,
            districts=districts,
            transfers=_parse_transfers(data.get("transfers")),
            replies=replies,
        )

    @classmethod
    def parse(cls, text: str) -> Policy:
        """Validate a policy from YAML text."""
        return cls.from_mapping(parse_yaml(text, PolicyError))

    @classmethod
    def load(cls, path: Path | None = None) -> Policy:
        """The policy at `path`, or the one shipped with the router."""
        return cls.parse(text_or_shipped(path, package=__package__ or "", name="routing.yaml"))


def _by_pattern(section: str, raw: dict[Any, Any]) -> Iterator[tuple[str, Any, str]]:
    """Each queue id or glob of a section keyed by them, its value, and where it stands."""
    for pattern, value in raw.items():
        where = f"{section}[{pattern!r}]"
        if not isinstance(pattern, str) or not pattern:
            raise PolicyError(f"{where}: a queue id or glob is required")
        yield pattern, value, where


def _parse_queues(raw: Any) -> tuple[QueueSettings, ...]:
    by_pattern = mapping_or_empty(
        "queues", raw, "a mapping of queue id (or glob) to settings is required", PolicyError
    )
    out = []
    for pattern, entry, where in _by_pattern("queues", by_pattern):
        if not isinstance(entry, dict):
            raise PolicyError(f"{where}: a mapping is required")
        refuse_unknown(where, entry, _QUEUE_KEYS, PolicyError)
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
    spellings = mapping_or_empty(
        "districts", raw, "a mapping of district id to its other spellings is required", PolicyError
    )
    out: dict[str, str] = {}
    for district, aliases in spellings.items():
        where = f"districts[{district!r}]"
        if not isinstance(district, str) or not _DISTRICT_ID.match(district):
            raise PolicyError(f"{where}: a district id (a-z, 0-9, dashes, at most 32) is required")
        names = string_list(where, [] if aliases is None else aliases)
        for name in sorted(names | {district}):
            key = district_key(name)
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
    refuse_unknown("transfers", raw, _TRANSFER_KEYS, PolicyError)
    try:
        urgency = frozenset(
            Urgency(u)
            for u in string_list("transfers.supervisor_urgency", raw.get("supervisor_urgency", []))
        )
    except ValueError as exc:
        raise PolicyError(f"transfers.supervisor_urgency: {exc}") from exc
    allowed = raw.get("allowed", {})
    if not isinstance(allowed, dict):
        raise PolicyError("transfers.allowed: a mapping of queue id (or glob) to destinations")
    entries = []
    for pattern, targets, where in _by_pattern("transfers.allowed", allowed):
        names = string_list(where, [] if targets is None else targets)
        entries.append((pattern, tuple(sorted(names))))
    return Transfers(allowed=tuple(entries), supervisor_urgency=urgency)
