"""Which language a mention is in, decided offline by py3langid's shipped model.

A mention that states its language (from its platform) keeps it; otherwise
the text is scored against a fixed set of languages an agency is likely to
see, which keeps short posts from being taken for a distant language.
Pure: no Kafka, no faust, nothing downloaded.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np
import scipy.sparse as sp  # type: ignore[import-untyped,import-not-found,unused-ignore]
from py3langid.langid import MODEL_FILE, LanguageIdentifier, visit_counts  # type: ignore[import-untyped,import-not-found,unused-ignore]

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
        self.languages = tuple(languages)

    def detect(self, text: str, stated: str | None = None) -> str:
        """The primary language subtag: the stated one if any, else the detected one."""
        if stated:
            return primary_subtag(stated)
        language, _ = self._identifier.classify(text)
        return str(language)

    def detect_many(self, texts: Sequence[str], stated: Sequence[str | None]) -> list[str]:
        """`detect` over a batch: one sparse product for all texts that state no language."""
        result = [primary_subtag(hint) if hint else "" for hint in stated]
        todo = [i for i, hint in enumerate(stated) if not hint]
        if not todo:
            return result
        ident = self._identifier
        rows: list[int] = []
        cols: list[int] = []
        vals: list[int] = []
        for row, index in enumerate(todo):
            # py3langid's own feature walk (pinned version); scores summed per batch.
            visits = visit_counts(
                ident.tk_nextmove, ident._rowbase, ident.tk_output, ident._encode(texts[index])
            )
            if visits:
                rows.extend([row] * len(visits))
                cols.extend(visits.keys())
                vals.extend(visits.values())
        counts = sp.csr_matrix(
            (np.log1p(np.asarray(vals, dtype=np.float32)), (rows, cols)),
            shape=(len(todo), ident.nb_ptc.shape[0]),
        )
        scores = counts @ ident.nb_ptc + ident.nb_pc
        best = np.asarray(scores).argmax(axis=1)
        classes = ident.nb_classes
        for row, index in enumerate(todo):
            result[index] = str(classes[best[row]])
        return result


@lru_cache(maxsize=1)
def default_detector() -> LanguageDetector:
    """One shared detector (its model takes a moment to load)."""
    return LanguageDetector()
