"""The classifier's explainable rules: plain text in, a verdict with reasons out.

A rule set is loaded from YAML and compiled once. It holds one pack per
language (`packs: {en: ..., es: ...}`); a rule set written without `packs`
is a single pack used for every language. Inside a pack, each lexicon
(topics, idioms, negation, immediacy, witness, emphasis, elsewhere, jest)
becomes one regular expression, so a mention is scanned a fixed number of
times whatever the number of patterns. Every decision carries its reasons:
which rule matched which words.

Most lexicons match nothing in most mentions, yet each scan costs a few
microseconds. So a rule set also compiles every pattern of every pack into
one Hyperscan database in prefilter mode (a superset of each pattern's
matches: it ignores the word-boundary look-arounds). One pass over the text
tells which patterns might match; only those go into the Python regular
expression that then runs, built from the same patterns in the same order
(cached). A pattern that cannot match anywhere in the text changes nothing in
an alternation, so the verdict is exactly the one of the full expressions,
and a test holds the two paths equal. A pattern Hyperscan cannot compile
always runs.

Free of faust, Kafka and HTTP: tested as plain functions.
"""

from __future__ import annotations

import re
import re._constants as sre_constants  # type: ignore[import-not-found,unused-ignore]
import re._parser as sre_parse  # type: ignore[import-not-found,unused-ignore]
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, NamedTuple

import hyperscan  # type: ignore[import-untyped,import-not-found,unused-ignore]
import yaml

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
# idioms: phrases that look alarming and are not (a topic match inside one is dropped).
# elsewhere: news about other places; jest: jokes and sarcasm. Both hold a
# mention down unless the writer is a witness of something happening now.
CUE_PACKS = (
    "idioms",
    "negation",
    "immediacy",
    "witness",
    "emphasis",
    "danger",
    "elsewhere",
    "jest",
    "fiction",
)

# Confidence of a rule-only decision; the model's probabilities replace them
# where the model agrees (see `combine`).
RULE_SCORE = {Urgency.CRITICAL: 0.9, Urgency.HIGH: 0.8, Urgency.NORMAL: 0.65, Urgency.LOW: 0.6}


class RulesetError(ValueError):
    """A rule set that cannot be used; the message names the place."""


# The longest text one pattern may match. Python's re backtracks: a pattern
# such as `is .* still closed` tries every "is " against the rest of the text,
# quadratic in its length (3 s on 100k characters). With every repetition
# bounded, each start costs at most a fixed amount whatever the text, so a scan
# is linear; the shipped packs match at most a few dozen characters.
LONGEST_MATCH = 200
_REPEATS = (sre_constants.MAX_REPEAT, sre_constants.MIN_REPEAT, sre_constants.POSSESSIVE_REPEAT)


def _unbounded_repeat(items: Any) -> bool:
    """Whether a parsed pattern (look-arounds included) repeats something without limit."""
    for op, av in items:
        if op in _REPEATS:
            if av[1] >= sre_constants.MAXREPEAT or _unbounded_repeat(av[2]):
                return True
        elif op is sre_constants.SUBPATTERN:
            if _unbounded_repeat(av[-1]):
                return True
        elif op is sre_constants.BRANCH:
            if any(_unbounded_repeat(branch) for branch in av[1]):
                return True
        elif op in (sre_constants.ASSERT, sre_constants.ASSERT_NOT):
            if _unbounded_repeat(av[1]):
                return True
        elif op is sre_constants.ATOMIC_GROUP and _unbounded_repeat(av):
            return True
    return False


_QUANTIFIER = re.compile(r"(?:\\.|\[(?:\\.|[^\]])*\]|\((?:\?[:!=]|\?<[!=])?|.)(?:[*+]|\{\d*,\})")


def _check_bounded(pattern: str, where: str) -> None:
    """Refuse a pattern that could backtrack over the whole text; the message names the place."""
    parsed = sre_parse.parse(pattern)
    if _unbounded_repeat(parsed):
        found = _QUANTIFIER.search(pattern)
        near = f" ({found.group()!r})" if found else ""
        raise RulesetError(
            f"{where}: pattern {pattern!r} repeats without limit{near}; bound every"
            " repetition, e.g. .{0,40} for .* and \\w{1,30} for \\w+"
        )
    longest = parsed.getwidth()[1]
    if longest > LONGEST_MATCH:
        raise RulesetError(
            f"{where}: pattern {pattern!r} can match {longest} characters,"
            f" more than {LONGEST_MATCH}; tighten its repetitions"
        )


def _alternation(patterns: list[str], where: str) -> str:
    for index, pattern in enumerate(patterns):
        try:
            re.compile(pattern)
        except re.error as exc:
            raise RulesetError(f"{where}[{index}]: bad pattern {pattern!r}: {exc}") from exc
        _check_bounded(pattern, f"{where}[{index}]")
    return "|".join(f"(?:{pattern})" for pattern in patterns)


def _bounded(body: str) -> re.Pattern[str]:
    # Word boundaries that also work next to punctuation and emoji. Patterns
    # are written in lower case and matched on lower-cased text: Python's re
    # runs about twice as fast without IGNORECASE.
    return re.compile(rf"(?<!\w)(?:{body})(?!\w)")


def _patterns(value: Any, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(p, str) for p in value):
        raise RulesetError(f"{where}: a list of patterns is required")
    return value


TOPICS = "topics"
LEXICONS = (TOPICS, *CUE_PACKS)
_REASON_CUES = CUE_PACKS[1:]  # idioms give their own reasons where they hold a topic down
# pack language -> lexicon -> the expression to run
Plan = dict[str, dict[str, re.Pattern[str]]]
_SUBSET_CACHE_LIMIT = 4096


@dataclass(frozen=True)
class Pack:
    """The compiled lexicons of one language: one regex per lexicon."""

    language: str
    topic_names: tuple[str, ...]
    topic_regex: re.Pattern[str]
    cue_regexes: dict[str, re.Pattern[str]]
    # Every pattern of every lexicon, in order; for topics, which topic each belongs to.
    patterns: dict[str, tuple[str, ...]] = field(default_factory=dict)
    pattern_topics: tuple[int, ...] = ()
    _subsets: dict[tuple[str, tuple[int, ...]], re.Pattern[str]] = field(
        default_factory=dict, compare=False, repr=False
    )
    # One pattern alone is the most common cut: compiled up front, never evicted.
    _singles: dict[tuple[str, int], re.Pattern[str]] = field(
        default_factory=dict, compare=False, repr=False
    )

    def __post_init__(self) -> None:
        for lexicon, patterns in self.patterns.items():
            for index in range(len(patterns)):
                self._singles[(lexicon, index)] = _bounded(self._body(lexicon, (index,)))

    def _body(self, lexicon: str, candidates: tuple[int, ...]) -> str:
        patterns = self.patterns[lexicon]
        if lexicon != TOPICS:
            return "|".join(f"(?:{patterns[index]})" for index in candidates)
        # the same named groups, in the same order, with only the candidates inside
        by_topic: dict[int, list[str]] = {}
        for index in candidates:
            by_topic.setdefault(self.pattern_topics[index], []).append(patterns[index])
        return "|".join(
            f"(?P<t{topic}>{'|'.join(f'(?:{p})' for p in chosen)})"
            for topic, chosen in by_topic.items()
        )

    @classmethod
    def compile(cls, language: str, data: Any, where: str) -> Pack:
        """Compile one pack; raise RulesetError naming the field."""
        if not isinstance(data, dict):
            raise RulesetError(f"{where or language}: a mapping is required")
        topics = data.get("topics")
        if not isinstance(topics, dict) or not topics:
            raise RulesetError(f"{where}topics: a mapping of topic name to patterns is required")
        names = tuple(topics)
        groups = []
        topic_patterns: list[str] = []
        owners: list[int] = []
        for index, name in enumerate(names):
            patterns = _patterns(topics[name], f"{where}topics.{name}")
            groups.append(f"(?P<t{index}>{_alternation(patterns, f'{where}topics.{name}')})")
            topic_patterns.extend(patterns)
            owners.extend([index] * len(patterns))
        cues = {}
        all_patterns = {TOPICS: tuple(topic_patterns)}
        for cue in CUE_PACKS:
            patterns = _patterns(data.get(cue, []), f"{where}{cue}")
            # A lexicon with no patterns matches nothing.
            cues[cue] = _bounded(_alternation(patterns, f"{where}{cue}") if patterns else r"(?!)")
            all_patterns[cue] = tuple(patterns)
        return cls(
            language=language,
            topic_names=names,
            topic_regex=_bounded("|".join(groups)),
            cue_regexes=cues,
            patterns=all_patterns,
            pattern_topics=tuple(owners),
        )

    def regex(self, lexicon: str, candidates: tuple[int, ...] | None) -> re.Pattern[str]:
        """The expression of a lexicon, cut down to the candidate patterns (None: all of them)."""
        if candidates is None:
            return self.topic_regex if lexicon == TOPICS else self.cue_regexes[lexicon]
        if len(candidates) == 1:
            return self._singles[(lexicon, candidates[0])]
        key = (lexicon, candidates)
        found = self._subsets.get(key)
        if found is None:
            if len(self._subsets) >= _SUBSET_CACHE_LIMIT:
                self._subsets.clear()
            found = self._subsets[key] = _bounded(self._body(lexicon, candidates))
        return found


def _collect(pattern_id: int, start: int, end: int, flags: int, hits: list[int]) -> None:
    hits.append(pattern_id)


class Prefilter:
    """One Hyperscan pass that says which patterns of which packs might match a text."""

    def __init__(self, packs: Sequence[Pack]) -> None:
        self._packs = {pack.language: pack for pack in packs}
        # the expressions to run for each set of patterns that may match, as seen so far
        self._plans: dict[tuple[int, ...], Plan] = {}
        self._owner: list[tuple[str, str, int]] = []  # pattern id -> (language, lexicon, index)
        expressions: list[bytes] = []
        for pack in packs:
            for lexicon in LEXICONS:
                for index, pattern in enumerate(pack.patterns.get(lexicon, ())):
                    self._owner.append((pack.language, lexicon, index))
                    expressions.append(pattern.encode("utf-8"))
        base = hyperscan.HS_FLAG_PREFILTER | hyperscan.HS_FLAG_SINGLEMATCH | hyperscan.HS_FLAG_UTF8
        flags = []
        for number, expression in enumerate(expressions):
            source, unicode_classes = _prefilter_source(expression.decode("utf-8"))
            expressions[number] = source.encode("utf-8")
            flags.append(base | hyperscan.HS_FLAG_UCP if unicode_classes else base)
        every = list(range(len(expressions)))
        self._database = _compile(expressions, every, flags)
        usable = every
        if self._database is None:
            # Some pattern Hyperscan refuses (one that can match the empty string, say):
            # find which, one at a time, and always run those.
            usable = [i for i in every if _compile([expressions[i]], [i], [flags[i]])]
            self._database = _compile(
                [expressions[i] for i in usable], usable, [flags[i] for i in usable]
            )
        self._always = tuple(sorted(set(every) - set(usable)))
        self._lock = threading.Lock()  # one scratch space per database

    def _hits(self, text: str) -> tuple[int, ...]:
        hits = list(self._always)
        if self._database is not None:
            with self._lock:
                self._database.scan(
                    text.encode("utf-8"), match_event_handler=_collect, context=hits
                )
        return tuple(sorted(hits))

    def _group(self, hits: tuple[int, ...]) -> dict[str, dict[str, tuple[int, ...]]]:
        grouped: dict[str, dict[str, list[int]]] = {}
        owner = self._owner
        for pattern_id in hits:
            language, lexicon, index = owner[pattern_id]
            grouped.setdefault(language, {}).setdefault(lexicon, []).append(index)
        return {
            language: {lexicon: tuple(indexes) for lexicon, indexes in lexicons.items()}
            for language, lexicons in grouped.items()
        }

    def plan(self, text: str) -> Plan:
        """Pack language -> lexicon -> the expression to run on `text` (cut to its candidates)."""
        hits = self._hits(text)
        plan = self._plans.get(hits)
        if plan is None:
            plan = {
                language: {
                    lexicon: self._packs[language].regex(lexicon, indexes)
                    for lexicon, indexes in lexicons.items()
                }
                for language, lexicons in self._group(hits).items()
            }
            if len(self._plans) >= _SUBSET_CACHE_LIMIT:
                self._plans.clear()
            self._plans[hits] = plan
        return plan


def _compile(expressions: list[bytes], ids: list[int], flags: list[int]) -> Any:
    """A Hyperscan database of these expressions, or None if it refuses one of them."""
    if not expressions:
        return None
    database = hyperscan.Database()
    try:
        database.compile(expressions=expressions, ids=ids, elements=len(ids), flags=flags)
    except hyperscan.error:
        return None
    return database


# Outside a character class, Python's Unicode \w and \d match a subset of what
# Hyperscan's ASCII \S matches (any code point but ASCII white space), and a
# superset is all a prefilter needs. Unicode classes in Hyperscan (UCP) make
# the shipped rule set take seconds to compile instead of a fraction of one.
_WIDENED = {"w": "\\S", "d": "\\S"}
_CLASS_ESCAPES = set("wWdDsSbB")


def _prefilter_source(pattern: str) -> tuple[str, bool]:
    """The pattern with \\w and \\d widened, and whether it still needs Unicode classes."""
    out: list[str] = []
    in_class = False
    unicode_classes = False
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\" and i + 1 < len(pattern):
            escaped = pattern[i + 1]
            if escaped in _CLASS_ESCAPES:
                if not in_class and escaped in _WIDENED:
                    out.append(_WIDENED[escaped])
                    i += 2
                    continue
                unicode_classes = True
            out.append(pattern[i : i + 2])
            i += 2
            continue
        if char == "[" and not in_class:
            in_class = True
            # "[]" and "[^]" open a class whose first member is a literal "]"
            opening = (
                "[^]"
                if pattern.startswith("[^]", i)
                else "[]"
                if pattern.startswith("[]", i)
                else "["
            )
            out.append(opening)
            i += len(opening)
            continue
        if char == "]" and in_class:
            in_class = False
        out.append(char)
        i += 1
    return "".join(out), unicode_classes


@dataclass(frozen=True)
class Ruleset:
    """A compiled rule set: language packs and the urgency policy over topics."""

    version: str
    packs: dict[str, Pack]
    urgency_groups: dict[str, frozenset[str]]
    prefilter: Prefilter | None = field(default=None, compare=False, repr=False)

    topic_names: tuple[str, ...] = field(init=False, compare=False)
    topic_order: dict[str, int] = field(init=False, compare=False, repr=False)
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
        idioms = [(m.start(), m.end()) for m in idiom_regex.finditer(text)] if idiom_regex else []
        topic_regex = regexes.get(TOPICS)
        if topic_regex is not None:
            for match in topic_regex.finditer(text):
                group = match.lastgroup
                if group is None:
                    continue
                topic = pack.topic_names[int(group[1:])]
                words = original[match.start() : match.end()]
                if idioms and _overlaps(match.start(), match.end(), idioms):
                    reasons.append(Hit(rule="idiom", label=topic, matched=(words,)))
                    cues.setdefault("idioms", []).append(words)
                    continue
                found.setdefault(topic, []).append(words)
        for cue, regex in regexes.items():
            if cue == TOPICS or cue == "idioms":
                continue
            matched = [
                original[m.start() : m.end()]
                for m in regex.finditer(text)
                if cue != "danger" or not _overlaps(m.start(), m.end(), idioms)
            ]
            if matched:
                cues.setdefault(cue, []).extend(matched)
    for topic, words_found in found.items():
        reasons.append(Hit(rule=f"topics.{topic}", label=topic, matched=tuple(words_found)))
    if cues:
        for cue in _REASON_CUES:
            if cue in cues:
                reasons.append(Hit(rule=cue, label=cue, matched=tuple(cues[cue])))
    shouting = _has_shouting(original)
    if shouting:
        reasons.append(Hit(rule="emphasis.caps", label="emphasis", matched=()))

    negated = "negation" in cues
    witnessed = "immediacy" in cues or "witness" in cues
    pressing = witnessed or "emphasis" in cues or shouting
    danger = "danger" in cues
    # News from elsewhere, jokes and fiction hold a mention down unless someone
    # is watching it happen; an idiom holds it down when it was the only alarm.
    held_down = "elsewhere" in cues or "jest" in cues or "fiction" in cues
    suppressed = (held_down and not witnessed) or ("idioms" in cues and not found)
    groups = ruleset.urgency_groups
    topics = found.keys()
    critical_hit = False
    if not found:  # no topic: only a threat to life makes it more than low
        critical_hit = danger and not negated and not suppressed
        urgency = Urgency.CRITICAL if critical_hit else Urgency.LOW
    elif suppressed:
        reasons.append(Hit(rule="suppressed", label="low", matched=()))
        urgency = Urgency.LOW
    elif topics & groups["critical_topics"]:
        # A negated threat is a report after the fact ("no one was hurt").
        critical_hit = not negated
        urgency = Urgency.NORMAL if negated else Urgency.CRITICAL
    elif danger and not negated and not suppressed:
        # A threat to life ("people trapped inside"), whatever the topic.
        critical_hit = True
        urgency = Urgency.CRITICAL
    elif topics & groups["escalating_topics"]:
        urgency = Urgency.NORMAL if negated else Urgency.CRITICAL if pressing else Urgency.HIGH
        critical_hit = urgency is Urgency.CRITICAL
    elif topics & groups["high_topics"]:
        urgency = Urgency.NORMAL if negated else Urgency.HIGH
    elif topics & groups["in_progress_topics"]:
        urgency = Urgency.HIGH if witnessed and not negated else Urgency.NORMAL
    elif topics & groups["normal_topics"]:
        urgency = Urgency.NORMAL
    else:
        urgency = Urgency.LOW
    if len(found) > 1:
        order = ruleset.topic_order
        ordered = tuple(sorted(found, key=order.__getitem__))
    else:
        ordered = tuple(found)
    return RuleVerdict(
        urgency=urgency,
        topics=ordered,
        reasons=tuple(reasons),
        applied=bool(packs),
        critical_hit=critical_hit,
        negated=negated,
        suppressed=suppressed,
        pressing=pressing,
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
