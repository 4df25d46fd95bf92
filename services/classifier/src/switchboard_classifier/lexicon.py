"""The lexicons of one language pack, compiled: each lexicon one bounded regular expression.

Every pattern is checked before it is compiled: it must be valid, and every
repetition in it bounded, so that a scan stays linear in the text whatever
the rule set (see `LONGEST_MATCH`). Free of faust, Kafka and HTTP.
"""

from __future__ import annotations

import re
import re._constants as sre_constants  # type: ignore[import-not-found,unused-ignore]
import re._parser as sre_parse  # type: ignore[import-not-found,unused-ignore]
from dataclasses import dataclass, field
from typing import Any

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
# pack language -> lexicon -> the expression to run
Plan = dict[str, dict[str, re.Pattern[str]]]
SUBSET_CACHE_LIMIT = 4096


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
    # The topic of each named group of the topic expressions ("t3" -> the fourth topic):
    # a look-up per match instead of parsing the group's name.
    group_topics: dict[str, str] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "group_topics", {f"t{i}": name for i, name in enumerate(self.topic_names)}
        )
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
            if len(self._subsets) >= SUBSET_CACHE_LIMIT:
                self._subsets.clear()
            found = self._subsets[key] = _bounded(self._body(lexicon, candidates))
        return found
