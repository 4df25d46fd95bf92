"""Which patterns of a rule set might match a text, in one Hyperscan pass.

Most lexicons match nothing in most mentions, yet each scan costs a few
microseconds. So a rule set also compiles every pattern of every pack into
one Hyperscan database in prefilter mode (a superset of each pattern's
matches: it ignores the word-boundary look-arounds). One pass over the text
tells which patterns might match; only those go into the Python regular
expression that then runs, built from the same patterns in the same order
(cached). A pattern that cannot match anywhere in the text changes nothing in
an alternation, so the verdict is exactly the one of the full expressions,
and a test holds the two paths equal. A pattern Hyperscan cannot compile
always runs. Free of faust, Kafka and HTTP.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import hyperscan  # type: ignore[import-untyped,import-not-found,unused-ignore]

from switchboard_classifier.lexicon import LEXICONS, SUBSET_CACHE_LIMIT, Pack, Plan


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
        if len(hits) > 1:  # one id or none (most texts) is sorted already
            hits.sort()
        return tuple(hits)

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
            if len(self._plans) >= SUBSET_CACHE_LIMIT:
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
