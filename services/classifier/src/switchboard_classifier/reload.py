"""Rolling out a new rule set or model without stopping the stream.

The reloader fingerprints the configured files (rule set YAML, model
directory, gazetteer, district map) every `interval` seconds. When a
fingerprint (sha256 of the bytes) changes it builds a whole new `Classifier`
and swaps it in as one reference, so a batch is always classified by one
consistent set of versions. A file that fails to load is logged and the
classifier in use is kept. Pure apart from reading files: no Kafka, no faust.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from switchboard_classifier.combine import Classifier
from switchboard_classifier.model import META_FILE, MODEL_FILE, TextModel
from switchboard_classifier.place import Places
from switchboard_classifier.rules import Ruleset

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Sources:
    """Where the classifier's parts come from (None: the shipped default)."""

    ruleset: Path | None = None
    model: Path | None = None
    gazetteer: Path | None = None
    districts: Path | None = None
    use_model: bool = True


def _fingerprint(sources: Sources) -> str:
    digest = hashlib.sha256()
    files = [sources.ruleset, sources.gazetteer, sources.districts]
    if sources.model is not None:
        files += [sources.model / MODEL_FILE, sources.model / META_FILE]
    for path in files:
        if path is None:
            digest.update(b"-")
            continue
        try:
            digest.update(path.read_bytes())
        except OSError:
            digest.update(b"missing")
    return digest.hexdigest()


def build(sources: Sources) -> Classifier:
    """A classifier from its sources; raise on anything unusable."""
    return Classifier(
        ruleset=Ruleset.load(sources.ruleset),
        model=TextModel.load(sources.model) if sources.use_model else None,
        places=Places.load(sources.gazetteer, sources.districts),
    )


class Reloader:
    """Holds the classifier in use and replaces it when its files change."""

    def __init__(
        self,
        sources: Sources,
        *,
        interval: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        on_swap: Callable[[Classifier], None] | None = None,
    ) -> None:
        self.sources = sources
        self.interval = interval
        self._clock = clock
        self._on_swap = on_swap
        self._fingerprint = _fingerprint(sources)
        self.current = build(sources)
        self._checked_at = clock()
        self.failures = 0

    def check(self, *, force: bool = False) -> bool:
        """Reload if due and changed; True when a new classifier was swapped in."""
        now = self._clock()
        if not force and now - self._checked_at < self.interval:
            return False
        self._checked_at = now
        fingerprint = _fingerprint(self.sources)
        if fingerprint == self._fingerprint:
            return False
        try:
            fresh = build(self.sources)
        # Whatever unreadable bytes raise (a torn or tampered model file can
        # make a loader fail in ways no error list foresees), the stream
        # keeps the classifier in use rather than stop.
        except Exception as exc:
            self.failures += 1
            log.error("reload refused; keeping the classifier in use: %s", exc)
            self._fingerprint = fingerprint  # do not retry the same bad bytes every interval
            return False
        self._fingerprint = fingerprint
        self.current = fresh
        log.info("classifier reloaded: %s", fresh.versions)
        if self._on_swap is not None:
            self._on_swap(fresh)
        return True
