"""The classifier's explainable rules: plain text in, a verdict with reasons out.

A rule set is loaded from YAML and compiled once. It holds one pack per
language (`packs: {en: ..., es: ...}`); a rule set written without `packs`
is a single pack used for every language. Inside a pack, each lexicon
(topics, idioms, negation, immediacy, witness, emphasis, elsewhere, jest)
becomes one regular expression, so a mention is scanned a fixed number of
times whatever the number of patterns. Every decision carries its reasons:
which rule matched which words.

Each pack's lexicons are compiled in `lexicon`; a Hyperscan pass
(`prefilter`) picks which of their patterns need to run on a text, and the
verdict is the same as when every pattern runs.

Free of faust, Kafka and HTTP: tested as plain functions.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, NamedTuple

import yaml

from switchboard_classifier.lexicon import CUE_PACKS, LEXICONS, TOPICS, Pack, Plan

# A rule set's error is raised while its packs compile; callers know it as the rule set's.
from switchboard_classifier.lexicon import RulesetError as RulesetError
from switchboard_classifier.prefilter import Prefilter
from switchboard_shared.events import Classification, Reason, Urgency

IRRELEVANT = "irrelevant"
ANY_LANGUAGE = "*"

_URGENCY_GROUPS = (
    "critical_topics",
    "escalating_topics",
    "high_topics",
    "in_progress_topics",
    "normal_topics",
    "low_topics",
)
(
    _CRITICAL_TOPICS,
    _ESCALATING_TOPICS,
    _HIGH_TOPICS,
    _IN_PROGRESS_TOPICS,
    _NORMAL_TOPICS,
    _LOW_TOPICS,
) = range(len(_URGENCY_GROUPS))
_NO_GROUP = len(_URGENCY_GROUPS)

# Confidence of a rule-only decision; the model's probabilities replace them
# where the model agrees (see `combine`).
RULE_SCORE = {Urgency.CRITICAL: 0.9, Urgency.HIGH: 0.8, Urgency.NORMAL: 0.65, Urgency.LOW: 0.6}
_REASON_CUES = CUE_PACKS[1:]  # idioms give their own reasons where they hold a topic down


@dataclass(frozen=True)
class Ruleset:
    """A compiled rule set: language packs and the urgency policy over topics."""

    version: str
    packs: dict[str, Pack]
    urgency_groups: dict[str, frozenset[str]]
    prefilter: Prefilter | None = field(default=None, compare=False, repr=False)

    topic_names: tuple[str, ...] = field(init=False, compare=False)
    topic_order: dict[str, int] = field(init=False, compare=False, repr=False)
    # topic -> the first of `_URGENCY_GROUPS` holding it (a topic in none is absent): the
    # group `evaluate` settles on is the first any found topic is in, the least of these.
    topic_group: dict[str, int] = field(init=False, compare=False, repr=False)
    full_plan: Plan = field(init=False, compare=False, repr=False)
    _packs_by_language: dict[str | None, list[Pack]] = field(
        init=False, compare=False, repr=False, default_factory=dict
    )

    def __post_init__(self) -> None:
        # Every topic any pack can tag, in the order first declared.
        names: dict[str, None] = {}
        for pack in self.packs.values():
            names.update(dict.fromkeys(pack.topic_names))
        object.__setattr__(self, "topic_names", tuple(names))
        object.__setattr__(self, "topic_order", {name: i for i, name in enumerate(names)})
        topic_group: dict[str, int] = {}
        for index, group in enumerate(_URGENCY_GROUPS):
            for topic in self.urgency_groups.get(group, ()):
                topic_group.setdefault(topic, index)
        object.__setattr__(self, "topic_group", topic_group)
        # without a prefilter: every lexicon that has patterns, whole
        full_plan = {
            language: {
                lexicon: pack.regex(lexicon, None)
                for lexicon in LEXICONS
                if pack.patterns.get(lexicon, True)  # a pack made by hand may list none
            }
            for language, pack in self.packs.items()
        }
        object.__setattr__(self, "full_plan", full_plan)

    @classmethod
    def from_mapping(cls, data: dict[str, Any]) -> Ruleset:
        """Compile a rule set from its parsed YAML; raise RulesetError naming the field."""
        if not isinstance(data, dict):
            raise RulesetError("the rule set must be a mapping")
        version = data.get("version")
        if not isinstance(version, str) or not version:
            raise RulesetError("version: a non-empty string is required")
        raw_packs = data.get("packs")
        if raw_packs is None:
            packs = {ANY_LANGUAGE: Pack.compile(ANY_LANGUAGE, data, "")}
        elif isinstance(raw_packs, dict) and raw_packs:
            packs = {
                str(lang): Pack.compile(str(lang), body, f"packs.{lang}.")
                for lang, body in raw_packs.items()
            }
        else:
            raise RulesetError("packs: a mapping of language code to pack is required")
        known = {name for pack in packs.values() for name in pack.topic_names}
        urgency = data.get("urgency", {})
        if not isinstance(urgency, dict):
            raise RulesetError("urgency: a mapping is required")
        urgency_groups = {}
        for group in _URGENCY_GROUPS:
            members = urgency.get(group, [])
            unknown = [m for m in members if m not in known]
            if unknown:
                raise RulesetError(f"urgency.{group}: unknown topics {unknown}")
            urgency_groups[group] = frozenset(members)
        prefilter = Prefilter(list(packs.values()))
        return cls(version=version, packs=packs, urgency_groups=urgency_groups, prefilter=prefilter)

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

    def packs_for(self, language: str | None) -> list[Pack]:
        """The packs that apply to a language: its own, or all when it is unknown."""
        found = self._packs_by_language.get(language)
        if found is None:
            if language is None:
                found = list(self.packs.values())
            else:
                found = [p for lang, p in self.packs.items() if lang in (language, ANY_LANGUAGE)]
            if len(self._packs_by_language) < 1000:  # language codes are few; bound it anyway
                self._packs_by_language[language] = found
        return found


class Hit(NamedTuple):
    """Which rule matched which words: a `Reason` before it goes into an event.

    A plain tuple, because building a validated model for every reason of
    every mention costs more than finding it.
    """

    rule: str
    label: str
    matched: tuple[str, ...] = ()


def to_reasons(hits: Sequence[Hit]) -> tuple[Reason, ...]:
    """The event form of the hits."""
    return tuple(Reason(rule=h.rule, label=h.label, matched=h.matched) for h in hits)


class RuleVerdict(NamedTuple):
    """What the rules found in one text, before the model has its say.

    A named tuple rather than a frozen dataclass: one is made per mention, and
    a tuple is built in C.
    """

    urgency: Urgency
    topics: tuple[str, ...]
    reasons: tuple[Hit, ...]
    applied: bool  # False when no pack covers the language: the model decides alone
    critical_hit: bool  # a critical topic, not negated, not suppressed
    negated: bool
    suppressed: bool  # an idiom, jest or news-from-elsewhere cue holds the mention down
    pressing: bool  # immediacy, witness or emphasis


def _overlaps(start: int, end: int, spans: list[tuple[int, int]]) -> bool:
    return any(start < e and s < end for s, e in spans)


_LETTER = re.compile(r"[^\W\d_]")
_CAPITAL = re.compile(r"[A-ZÀ-ÖØ-Þ]")
_ASCII_UPPER = bytes(range(ord("A"), ord("Z") + 1))
_ASCII_LETTERS = _ASCII_UPPER + _ASCII_UPPER.lower()


def _has_shouting(text: str) -> bool:
    if text.isascii():  # bytes.translate counts in C; most mentions are ASCII
        raw = text.encode("ascii")
        capitals = len(raw) - len(raw.translate(None, _ASCII_UPPER))
        if capitals <= 0.7 * 12:  # too few capitals to be 70% of at least 12 letters
            return False
        letters = len(raw) - len(raw.translate(None, _ASCII_LETTERS))
    else:
        capitals = len(_CAPITAL.findall(text))
        if capitals <= 0.7 * 12:
            return False
        letters = len(_LETTER.findall(text))
    return letters >= 12 and capitals / letters > 0.7


def topic_urgency(
    ruleset: Ruleset,
    topics: Iterable[str],
    negated: bool,
    danger: bool,
    pressing: bool,
    witnessed: bool,
) -> tuple[Urgency, bool]:
    """The rule urgency of a mention whose (not suppressed) topics were found, and whether
    it is a critical hit: the first urgency group any of them is in decides.

    The first group is looked up (`Ruleset.topic_group`) rather than found by
    intersecting the topics with each group in turn; a test holds the two equal.
    """
    topic_group = ruleset.topic_group
    first_group = min([topic_group.get(topic, _NO_GROUP) for topic in topics])
    if first_group == _CRITICAL_TOPICS:
        # A negated threat is a report after the fact ("no one was hurt").
        return (Urgency.NORMAL, False) if negated else (Urgency.CRITICAL, True)
    if danger and not negated:
        # A threat to life ("people trapped inside"), whatever the topic.
        return Urgency.CRITICAL, True
    if first_group == _ESCALATING_TOPICS:
        if negated:
            return Urgency.NORMAL, False
        return (Urgency.CRITICAL, True) if pressing else (Urgency.HIGH, False)
    if first_group == _HIGH_TOPICS:
        return Urgency.NORMAL if negated else Urgency.HIGH, False
    if first_group == _IN_PROGRESS_TOPICS:
        return Urgency.HIGH if witnessed and not negated else Urgency.NORMAL, False
    if first_group == _NORMAL_TOPICS:
        return Urgency.NORMAL, False
    return Urgency.LOW, False


def evaluate(ruleset: Ruleset, text: str, language: str | None = None) -> RuleVerdict:
    """Run the packs for `language` over `text`: topics, cues and the rule urgency."""
    packs = ruleset.packs_for(language)
    original = text
    lowered = text.lower()
    if len(lowered) == len(text):
        text = lowered  # same offsets, so matched words are cut from the original
    else:
        text = text.casefold()
        original = text
    reasons: list[Hit] = []
    found: dict[str, list[str]] = {}
    cues: dict[str, list[str]] = {}  # only the cues that matched
    plan = ruleset.prefilter.plan(text) if ruleset.prefilter else ruleset.full_plan
    for pack in packs:
        regexes = plan.get(pack.language)
        if not regexes:
            continue
        idiom_regex = regexes.get("idioms")
        idioms = [m.span() for m in idiom_regex.finditer(text)] if idiom_regex else []
        topic_regex = regexes.get(TOPICS)
        if topic_regex is not None:
            group_topics = pack.group_topics
            for match in topic_regex.finditer(text):
                group = match.lastgroup
                if group is None:
                    continue
                topic = group_topics[group]
                start, end = match.span()
                words = original[start:end]
                if idioms and _overlaps(start, end, idioms):
                    reasons.append(Hit("idiom", topic, (words,)))
                    cues.setdefault("idioms", []).append(words)
                    continue
                listed = found.get(topic)
                if listed is None:
                    found[topic] = [words]
                else:
                    listed.append(words)
        for cue, regex in regexes.items():
            if cue == TOPICS or cue == "idioms":
                continue
            if cue == "danger" and idioms:
                matched = [
                    original[start:end]
                    for start, end in (m.span() for m in regex.finditer(text))
                    if not _overlaps(start, end, idioms)
                ]
            else:
                matched = [original[m.start() : m.end()] for m in regex.finditer(text)]
            if matched:
                cues.setdefault(cue, []).extend(matched)
    for topic, words_found in found.items():
        reasons.append(Hit(f"topics.{topic}", topic, tuple(words_found)))
    if cues:
        for cue in _REASON_CUES:
            if cue in cues:
                reasons.append(Hit(cue, cue, tuple(cues[cue])))
    shouting = _has_shouting(original)
    if shouting:
        reasons.append(Hit("emphasis.caps", "emphasis", ()))

    negated = "negation" in cues
    witnessed = "immediacy" in cues or "witness" in cues
    pressing = witnessed or "emphasis" in cues or shouting
    danger = "danger" in cues
    # News from elsewhere, jokes and fiction hold a mention down unless someone
    # is watching it happen; an idiom holds it down when it was the only alarm.
    held_down = "elsewhere" in cues or "jest" in cues or "fiction" in cues
    suppressed = (held_down and not witnessed) or ("idioms" in cues and not found)
    critical_hit = False
    if not found:  # no topic: only a threat to life makes it more than low
        critical_hit = danger and not negated and not suppressed
        urgency = Urgency.CRITICAL if critical_hit else Urgency.LOW
    elif suppressed:
        reasons.append(Hit("suppressed", "low", ()))
        urgency = Urgency.LOW
    else:
        urgency, critical_hit = topic_urgency(ruleset, found, negated, danger, pressing, witnessed)
    if len(found) > 1:
        order = ruleset.topic_order
        ordered = tuple(sorted(found, key=order.__getitem__))
    else:
        ordered = tuple(found)
    # positional, in the fields' order: a named tuple is built faster without keywords
    return RuleVerdict(
        urgency,
        ordered,
        tuple(reasons),
        bool(packs),  # applied
        critical_hit,
        negated,
        suppressed,
        pressing,
    )


def classify_text(ruleset: Ruleset, text: str, language: str | None = None) -> Classification:
    """Urgency, topics and reasons for one text, by the rules alone."""
    verdict = evaluate(ruleset, text, language)
    return Classification(
        urgency=verdict.urgency,
        score=RULE_SCORE[verdict.urgency],
        topics=(() if verdict.suppressed else verdict.topics) or (IRRELEVANT,),
        reasons=to_reasons(verdict.reasons),
        ruleset_version=ruleset.version,
        language=language,
    )
