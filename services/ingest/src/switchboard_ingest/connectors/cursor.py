"""Durable connector cursors: one small JSON file per connector in the state directory.

A cursor records how far a connector has got, and is advanced only after Kafka
acknowledged the item (or intake called it a duplicate). Files are replaced
atomically, so a crash leaves either the old cursor or the new one, never half.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import tempfile
import time
from pathlib import Path
from typing import Any

from switchboard_shared.logs import fields

log = logging.getLogger(__name__)

_UNSAFE_IN_FILENAME = re.compile(r"[^A-Za-z0-9._-]+")


class CursorStore:
    """Reads and atomically replaces the cursor files under one directory."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def path_for(self, key: str) -> Path:
        """The file holding the cursor of `key` (readable, and unique thanks to a hash)."""
        readable = _UNSAFE_IN_FILENAME.sub("_", key).strip("._")[:80]
        digest = hashlib.sha256(key.encode()).hexdigest()[:12]
        return self.directory / f"{readable}-{digest}.json"

    def load(self, key: str) -> dict[str, Any] | None:
        """The saved cursor of `key`, or None when there is none (or it was unreadable)."""
        path = self.path_for(key)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        try:
            data = json.loads(text)
            if not isinstance(data, dict):
                raise ValueError("cursor is not a JSON object")
        except ValueError as exc:
            # Atomic writes make this a hand edit or disk damage: keep the file for
            # a human and start afresh (intake's duplicate memory absorbs repeats).
            quarantined = path.with_name(f"{path.name}.corrupt-{int(time.time())}")
            path.replace(quarantined)
            log.error(
                "unreadable connector cursor set aside; starting afresh",
                extra=fields(cursor=key, path=str(quarantined), error=repr(exc)),
            )
            return None
        return data

    def save(self, key: str, data: dict[str, Any]) -> None:
        """Replace the cursor of `key` atomically and durably (temp file, fsync, rename)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.path_for(key)
        fd, temp_name = tempfile.mkstemp(dir=self.directory, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as temp:
                json.dump(data, temp, ensure_ascii=False, separators=(",", ":"))
                temp.flush()
                os.fsync(temp.fileno())
            os.replace(temp_name, path)
        except BaseException:
            Path(temp_name).unlink(missing_ok=True)
            raise
        # The rename lives in the directory: sync it too, or a power cut may undo it.
        dir_fd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
