"""The router's pure core: which queue a classified mention goes to, and why.

A policy is an ordered list of rules loaded from YAML; the first rule whose
conditions all hold picks the queue. No Kafka, no database, no HTTP here.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from switchboard_shared.events import Classification, MentionIn, Urgency

DEFAULT_RULE = "default"
_CONDITIONS = {"urgency", "topics_any", "sources", "languages", "has"}
_TEMPLATE_FIELDS = {"district", "source", "language", "urgency"}


class PolicyError(ValueError):
    """A routing policy that cannot be used; the message names the rule and field."""


def queue_slug(value: str) -> str:
    """A queue id made safe from free text: lower-case letters, digits and dashes."""
    slug = re.sub(r"[^a-z0-9]+", "-", value.lower()).strip("-")
    return slug[:64] or "unknown"


@dataclass(frozen=True)
class Decision:
    """Where a mention goes and which rule sent it there."""

    queue_id: str
    rule: str


@dataclass(frozen=True)
class Rule:
    """One routing rule: conditions and the queue template."""

    name: str
    queue: str
    urgency: frozenset[Urgency] | None = None
    topics_any: frozenset[str] | None = None
    sources: frozenset[str] | None = None
    languages: frozenset[str] | None = None
    has: frozenset[str] = frozenset()


def _facts(mention: MentionIn, classification: Classification) -> dict[str, str | None]:
    return {
        "district": mention.district,
        "source": mention.source.value,
        "language": mention.language,
        "urgency": classification.urgency.value,
    }


@dataclass(frozen=True)
class Policy:
    """A validated routing policy."""

    version: str
    default_queue: str
    rules: tuple[Rule, ...]

    def route(self, mention: MentionIn, classification: Classification) -> Decision:
        """The queue for one classified mention."""
        facts = _facts(mention, classification)
        topics = set(classification.topics)
        for rule in self.rules:
            if rule.urgency is not None and classification.urgency not in rule.urgency:
                continue
            if rule.topics_any is not None and not topics & rule.topics_any:
                continue
            if rule.sources is not None and mention.source.value not in rule.sources:
                continue
            if rule.languages is not None and (mention.language or "") not in rule.languages:
                continue
            if any(not facts.get(name) for name in rule.has):
                continue
            values = {k: queue_slug(v) for k, v in facts.items() if v}
            try:
                queue = rule.queue.format(**values)
            except KeyError:
                continue  # the template needs a fact this mention lacks
            return Decision(queue_id=queue, rule=rule.name)
        return Decision(queue_id=self.default_queue, rule=DEFAULT_RULE)

    @classmethod
    def from_mapping(cls, data: Any) -> Policy:
        """Validate a parsed policy; raise PolicyError naming the rule and field."""
        if not isinstance(data, dict):
            raise PolicyError("the policy must be a mapping")
        version = data.get("version")
        if not isinstance(version, str) or not version:
            raise PolicyError("version: a non-empty string is required")
        default_queue = data.get("default_queue")
        if not isinstance(default_queue, str) or queue_slug(default_queue) != default_queue:
            raise PolicyError("default_queue: a queue id (a-z, 0-9, dashes) is required")
        raw_rules = data.get("rules", [])
        if not isinstance(raw_rules, list):
            raise PolicyError("rules: a list is required")
        rules = []
        seen: set[str] = set()
        for index, raw in enumerate(raw_rules):
            where = f"rules[{index}]"
            if not isinstance(raw, dict):
                raise PolicyError(f"{where}: a mapping is required")
            name = raw.get("name")
            if not isinstance(name, str) or not name:
                raise PolicyError(f"{where}.name: a non-empty string is required")
            where = f"rule {name!r}"
            if name in seen:
                raise PolicyError(f"{where}.name: duplicate rule name")
            seen.add(name)
            queue = raw.get("queue")
            if not isinstance(queue, str) or not queue:
                raise PolicyError(f"{where}.queue: a queue id or template is required")
            placeholders = {f for _, f, _, _ in string.Formatter().parse(queue) if f}
            if placeholders - _TEMPLATE_FIELDS:
                raise PolicyError(
                    f"{where}.queue: unknown placeholders {sorted(placeholders - _TEMPLATE_FIELDS)}"
                )
            when = raw.get("when", {})
            if not isinstance(when, dict):
                raise PolicyError(f"{where}.when: a mapping is required")
            unknown = set(when) - _CONDITIONS
            if unknown:
                raise PolicyError(f"{where}.when: unknown conditions {sorted(unknown)}")
            lists: dict[str, frozenset[str]] = {}
            for key, value in when.items():
                if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                    raise PolicyError(f"{where}.when.{key}: a list of strings is required")
                lists[key] = frozenset(value)
            urgency = None
            if "urgency" in lists:
                try:
                    urgency = frozenset(Urgency(u) for u in lists["urgency"])
                except ValueError as exc:
                    raise PolicyError(f"{where}.when.urgency: {exc}") from exc
            rules.append(
                Rule(
                    name=name,
                    queue=queue,
                    urgency=urgency,
                    topics_any=lists.get("topics_any"),
                    sources=lists.get("sources"),
                    languages=lists.get("languages"),
                    has=lists.get("has", frozenset()),
                )
            )
        return cls(version=version, default_queue=default_queue, rules=tuple(rules))

    @classmethod
    def load(cls, path: Path | None = None) -> Policy:
        """The policy at `path`, or the one shipped with the router."""
        if path is None:
            text = resources.files(__package__).joinpath("routing.yaml").read_text("utf-8")
        else:
            text = path.read_text("utf-8")
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise PolicyError(f"not valid YAML: {exc}") from exc
        return cls.from_mapping(data)
