"""The classifier's pure core: rules over plain text, no Kafka, no faust.

A rule set is loaded from YAML and compiled once: each pack (topics, idioms,
negation, immediacy, witness, emphasis) becomes one regular expression, so a
mention is scanned a fixed number of times whatever the number of patterns.
Every decision carries its reasons: which rule matched which words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from switchboard_shared.events import Classification, MentionIn, Reason, Urgency

IRRELEVANT = "irrelevant"

_URGENCY_GROUPS = (
    "critical_topics",
    "escalating_topics",
    "high_topics",
    "in_progress_topics",
    "normal_topics",
    "low_topics",
)
_CUE_PACKS = ("idioms", "negation", "immediacy", "witness", "emphasis")

# Scores stand for confidence in the urgency label; issue-level calibration
# replaces them once a trained model exists.
_BASE_SCORE = {Urgency.CRITICAL: 0.9, Urgency.HIGH: 0.75, Urgency.NORMAL: 0.6, Urgency.LOW: 0.55}


class RulesetError(ValueError):
    """A rule set that cannot be used; the message names the place."""


def _alternation(patterns: list[str], where: str) -> str:
    for index, pattern in enumerate(patterns):
        try:
            re.compile(pattern)
        except re.error as exc:
            raise RulesetError(f"{where}[{index}]: bad pattern {pattern!r}: {exc}") from exc
    return "|".join(f"(?:{pattern})" for pattern in patterns)


def _bounded(body: str) -> re.Pattern[str]:
    # Word boundaries that also work next to punctuation and emoji.
    return re.compile(rf"(?<!\w)(?:{body})(?!\w)", re.IGNORECASE)


@dataclass(frozen=True)
class Ruleset:
    """A compiled rule set: one regex per pack."""

    version: str
    topic_names: tuple[str, ...]
    topic_regex: re.Pattern[str]
    cue_regexes: dict[str, re.Pattern[str]]
    urgency_groups: dict[str, frozenset[str]]

    @classmethod
    def from_mapping(cls, data: dict[str, Any]) -> Ruleset:
        """Compile a rule set from its parsed YAML; raise RulesetError naming the field."""
        if not isinstance(data, dict):
            raise RulesetError("the rule set must be a mapping")
        version = data.get("version")
        if not isinstance(version, str) or not version:
            raise RulesetError("version: a non-empty string is required")
        topics = data.get("topics")
        if not isinstance(topics, dict) or not topics:
            raise RulesetError("topics: a mapping of topic name to patterns is required")
        names = tuple(topics)
        groups = []
        for index, name in enumerate(names):
            patterns = topics[name]
            if not isinstance(patterns, list) or not all(isinstance(p, str) for p in patterns):
                raise RulesetError(f"topics.{name}: a list of patterns is required")
            groups.append(f"(?P<t{index}>{_alternation(patterns, f'topics.{name}')})")
        cues = {}
        for pack in _CUE_PACKS:
            patterns = data.get(pack, [])
            if not isinstance(patterns, list) or not all(isinstance(p, str) for p in patterns):
                raise RulesetError(f"{pack}: a list of patterns is required")
            # A pack with no patterns matches nothing.
            cues[pack] = _bounded(_alternation(patterns, pack) if patterns else r"(?!)")
        urgency = data.get("urgency", {})
        if not isinstance(urgency, dict):
            raise RulesetError("urgency: a mapping is required")
        urgency_groups = {}
        for group in _URGENCY_GROUPS:
            members = urgency.get(group, [])
            unknown = [m for m in members if m not in topics]
            if unknown:
                raise RulesetError(f"urgency.{group}: unknown topics {unknown}")
            urgency_groups[group] = frozenset(members)
        return cls(
            version=version,
            topic_names=names,
            topic_regex=_bounded("|".join(groups)),
            cue_regexes=cues,
            urgency_groups=urgency_groups,
        )

    @classmethod
    def from_yaml(cls, text: str) -> Ruleset:
        """Compile a rule set from YAML text."""
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise RulesetError(f"not valid YAML: {exc}") from exc
        return cls.from_mapping(data)

    @classmethod
    def load(cls, path: Path | None = None) -> Ruleset:
        """The rule set at `path`, or the one shipped with the classifier."""
        if path is None:
            text = resources.files(__package__).joinpath("ruleset.yaml").read_text("utf-8")
        else:
            text = path.read_text("utf-8")
        return cls.from_yaml(text)


def _spans(regex: re.Pattern[str], text: str) -> list[tuple[int, int, str]]:
    return [(m.start(), m.end(), m.group(0)) for m in regex.finditer(text)]


def _overlaps(start: int, end: int, spans: list[tuple[int, int, str]]) -> bool:
    return any(start < e and s < end for s, e, _ in spans)


def _has_shouting(text: str) -> bool:
    letters = [c for c in text if c.isalpha()]
    return len(letters) >= 12 and sum(c.isupper() for c in letters) / len(letters) > 0.7


def classify_text(ruleset: Ruleset, text: str) -> Classification:
    """Urgency, topics and reasons for one text."""
    reasons: list[Reason] = []
    idioms = _spans(ruleset.cue_regexes["idioms"], text)
    found: dict[str, list[str]] = {}
    for match in ruleset.topic_regex.finditer(text):
        group = match.lastgroup
        if group is None:
            continue
        topic = ruleset.topic_names[int(group[1:])]
        words = match.group(0)
        if _overlaps(match.start(), match.end(), idioms):
            reasons.append(Reason(rule="idiom", label=topic, matched=(words,)))
            continue
        found.setdefault(topic, []).append(words)
    for topic, matched in found.items():
        reasons.append(Reason(rule=f"topics.{topic}", label=topic, matched=tuple(matched)))

    cues = {
        pack: _spans(ruleset.cue_regexes[pack], text) for pack in _CUE_PACKS if pack != "idioms"
    }
    for pack, spans in cues.items():
        if spans:
            reasons.append(Reason(rule=pack, label=pack, matched=tuple(w for _, _, w in spans)))
    shouting = _has_shouting(text)
    if shouting:
        reasons.append(Reason(rule="emphasis.caps", label="emphasis", matched=()))

    negated = bool(cues["negation"])
    pressing = bool(cues["immediacy"] or cues["witness"] or cues["emphasis"] or shouting)
    groups = ruleset.urgency_groups
    topics = set(found)

    if topics & groups["critical_topics"]:
        urgency = Urgency.HIGH if negated else Urgency.CRITICAL
    elif topics & groups["escalating_topics"]:
        urgency = Urgency.NORMAL if negated else Urgency.CRITICAL if pressing else Urgency.HIGH
    elif topics & groups["high_topics"]:
        urgency = Urgency.HIGH
    elif topics & groups["in_progress_topics"]:
        in_progress = bool(cues["immediacy"] or cues["witness"]) and not negated
        urgency = Urgency.HIGH if in_progress else Urgency.NORMAL
    elif topics & groups["normal_topics"]:
        urgency = Urgency.NORMAL
    else:
        urgency = Urgency.LOW

    cue_count = sum(bool(spans) for spans in cues.values()) + len(topics)
    score = min(0.99, _BASE_SCORE[urgency] + 0.02 * cue_count)
    ordered = tuple(name for name in ruleset.topic_names if name in topics) or (IRRELEVANT,)
    return Classification(
        urgency=urgency,
        score=round(score, 3),
        topics=ordered,
        reasons=tuple(reasons),
        ruleset_version=ruleset.version,
    )


def classify_mention(ruleset: Ruleset, mention: MentionIn) -> Classification:
    """Classify a canonical mention (its text, for now)."""
    return classify_text(ruleset, mention.text)
