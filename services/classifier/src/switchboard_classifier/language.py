"""Which language a mention is in, decided offline by py3langid's shipped model.

A mention that states its language (from its platform) keeps it; otherwise
the text is scored against a fixed set of languages an agency is likely to
see, which keeps short posts from being taken for a distant language.
Pure: no Kafka, no faust, nothing downloaded.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np
import scipy.sparse as sp  # type: ignore[import-untyped,import-not-found,unused-ignore]
from py3langid.langid import MODEL_FILE, LanguageIdentifier  # type: ignore[import-untyped,import-not-found,unused-ignore]

from switchboard_classifier.compiled import jit

DEFAULT_LANGUAGES = (
    "en", "es", "fr", "pt", "de", "it", "nl", "pl", "ru", "uk", "ar", "zh", "ja", "ko",
    "vi", "tl", "hi", "tr", "ht", "so", "fa", "el", "ro", "sv",
)  # fmt: skip


def primary_subtag(stated: str) -> str:
    """The primary language subtag of a stated language tag: "es-MX" -> "es"."""
    return stated.split("-")[0].lower()


class LanguageDetector:
    """Detects the language of texts among a fixed set of candidates."""

    def __init__(self, languages: Sequence[str] = DEFAULT_LANGUAGES) -> None:
        self._identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
        self._identifier.set_languages(list(languages))
        # py3langid keeps the model of all 97 languages to restrict again later;
        # the set is fixed here, so let those 19 MB go.
        self._identifier._full_model = None
        self.languages = tuple(languages)
        # A view of py3langid's own table (about 10 million entries), not a copy.
        self._next = np.frombuffer(self._identifier.tk_nextmove, dtype=np.uint32)
        self._rowbase = np.asarray(self._identifier._rowbase, dtype=np.intp)
        self._output = np.asarray(self._identifier.tk_output, dtype=np.intp)

    def _feature_counts(self, encoded: list[bytes]) -> sp.csr_matrix:
        """How often each of py3langid's features occurs in each text: its byte automaton
        walked text by text in compiled code, the same counts as `_feature_counts_in_numpy`."""
        data = np.frombuffer(b"".join(encoded), dtype=np.uint8)
        ends = np.cumsum([len(e) for e in encoded], dtype=np.intp)
        indptr, indices, counts = _automaton_counts(
            data, ends, self._next, self._rowbase, self._output
        )
        return sp.csr_matrix(
            (counts, indices, indptr), shape=(len(encoded), self._identifier.nb_ptc.shape[0])
        )

    def _feature_counts_in_numpy(self, encoded: list[bytes]) -> sp.csr_matrix:
        """py3langid's byte automaton walked for every text of the batch at once.

        `visit_counts` walks one text one byte at a time in Python; here step t
        moves every text still longer than t by its t-th byte, so a batch costs
        as many numpy steps as its longest text has bytes. Texts go longest
        first, so the texts still walking are always a prefix.
        """
        order = sorted(range(len(encoded)), key=lambda i: -len(encoded[i]))
        lengths = np.array([len(encoded[i]) for i in order], dtype=np.intp)
        width = int(lengths[0]) if len(lengths) else 0
        grid = np.zeros((len(order), width), dtype=np.intp)
        for row, index in enumerate(order):
            grid[row, : lengths[row]] = np.frombuffer(encoded[index], dtype=np.uint8)
        state = np.zeros(len(order), dtype=np.intp)
        rows: list[np.ndarray[Any, Any]] = []
        features: list[np.ndarray[Any, Any]] = []
        walking = len(order)
        for step in range(width):
            while walking and lengths[walking - 1] <= step:
                walking -= 1
            state[:walking] = self._next[self._rowbase[state[:walking]] + grid[:walking, step]]
            out = self._output[state[:walking]]
            hit = np.flatnonzero(out >= 0)
            rows.append(np.asarray(order, dtype=np.intp)[hit] if len(hit) else hit)
            features.append(out[hit])
        row_index = np.concatenate(rows) if rows else np.zeros(0, dtype=np.intp)
        feature_index = np.concatenate(features) if features else np.zeros(0, dtype=np.intp)
        counts = sp.csr_matrix(
            (np.ones(len(row_index), dtype=np.float32), (row_index, feature_index)),
            shape=(len(encoded), self._identifier.nb_ptc.shape[0]),
        )
        counts.sum_duplicates()
        return counts

    def _scores(self, counts: sp.csr_matrix) -> Any:
        """`counts @ nb_ptc + nb_pc` over the table rows of the features the batch holds.

        py3langid's table (100,000 features by the languages) is a float16 column
        view; multiplied by float32 counts, scipy copied and widened all of it (10 MB)
        at every batch, ten times the product itself. Only the rows of the features
        that occur are widened here, and the counts renumbered to them in the same
        order (the renumbering keeps order), so every sum is the same float32 one,
        bit for bit, without keeping a widened table in memory.
        """
        table = self._identifier.nb_ptc
        occurs = np.zeros(table.shape[0], dtype=np.bool_)
        occurs[counts.indices] = True
        renumbered = np.cumsum(occurs, dtype=np.int32) - 1
        compact = sp.csr_matrix(
            (counts.data, renumbered[counts.indices], counts.indptr),
            shape=(counts.shape[0], int(renumbered[-1]) + 1 if len(renumbered) else 0),
        )
        rows = table[np.flatnonzero(occurs)].astype(np.result_type(counts.data, table))
        return compact @ rows + self._identifier.nb_pc

    def detect_many(self, texts: Sequence[str], stated: Sequence[str | None]) -> list[str]:
        """`detect` over a batch: one walk and one sparse product for all texts stating none."""
        result = [primary_subtag(hint) if hint else "" for hint in stated]
        todo = [i for i, hint in enumerate(stated) if not hint]
        if not todo:
            return result
        ident = self._identifier
        counts = self._feature_counts([ident._encode(texts[index]) for index in todo])
        counts.data = np.log1p(counts.data)
        scores = self._scores(counts)
        best = np.asarray(scores).argmax(axis=1)
        classes = ident.nb_classes
        for row, index in enumerate(todo):
            result[index] = str(classes[best[row]])
        return result


@jit
def _automaton_counts(data: Any, ends: Any, next_move: Any, rowbase: Any, output: Any) -> Any:
    """CSR (indptr, features, counts as float32) of each text's automaton outputs, sorted
    by feature with repeats summed: the canonical form `sum_duplicates` gives."""
    n = len(ends)
    indptr = np.zeros(n + 1, dtype=np.intp)
    indices = np.empty(len(data), dtype=np.int32)
    counts = np.empty(len(data), dtype=np.float32)
    found = np.empty(len(data), dtype=np.intp)
    kept = 0
    start = 0
    for row in range(n):
        state = 0
        hits = 0
        for i in range(start, ends[row]):
            state = next_move[rowbase[state] + data[i]]
            feature = output[state]
            if feature >= 0:
                found[hits] = feature
                hits += 1
        ordered = np.sort(found[:hits])
        for j in range(hits):
            if j and ordered[j] == ordered[j - 1]:
                counts[kept - 1] += 1.0
            else:
                indices[kept] = ordered[j]
                counts[kept] = 1.0
                kept += 1
        indptr[row + 1] = kept
        start = ends[row]
    return indptr, indices[:kept].copy(), counts[:kept].copy()


@lru_cache(maxsize=1)
def default_detector() -> LanguageDetector:
    """One shared detector (its model takes a moment to load)."""
    return LanguageDetector()
