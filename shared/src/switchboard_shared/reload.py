"""Files that are reloaded while a service runs (the classifier's rule set and model,
the router's routing policy): one rule for noticing a change, one set of outcomes.

A change is a change of the bytes (sha256 of every watched file; a missing file
counts as its own content), not of a timestamp: an edit within the file system's
time resolution is still seen, and touching a file reloads nothing. A file that
fails to load is not retried until its bytes change again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from enum import StrEnum
from pathlib import Path


class ReloadOutcome(StrEnum):
    """What became of changed files (the `outcome` label of a service's reload counter)."""

    SWAPPED = "swapped"
    REFUSED = "refused"


def fingerprint(paths: Iterable[Path | None]) -> str:
    """The sha256 of the files' bytes, in order (None: a shipped default, which never changes)."""
    digest = hashlib.sha256()
    for path in paths:
        if path is None:
            digest.update(b"-")
            continue
        try:
            digest.update(path.read_bytes())
        except OSError:
            digest.update(b"missing")
    return digest.hexdigest()


class FileWatch:
    """Says whether watched files changed since the last time it was asked."""

    def __init__(self, paths: Iterable[Path | None]) -> None:
        self.paths = tuple(paths)
        self._seen = fingerprint(self.paths)

    def changed(self) -> bool:
        """True once for each change of the files' bytes."""
        now = fingerprint(self.paths)
        if now == self._seen:
            return False
        self._seen = now
        return True
