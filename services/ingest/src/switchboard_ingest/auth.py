"""Per-source API keys for HTTP intake.

Keys are stored hashed (SHA-256 of the key, hex) in a JSON file:
`[{"name": "city-app", "sha256": "<hex>", "sources": ["app", "sms"]}]`;
`"sources": ["*"]` allows every source. A request without a known key gets
401; a key posting for a source it is not scoped to gets 403.

An entry's optional `"agency"` (default: its `name`) namespaces the mention
ids of sources whose ids the submitter makes up (app, email, sms, other): two
agencies may both have a `case-42`, and one must not make the other's a
duplicate. Entries of one agency (a rotated key, two backends of one app)
share duplicates. Without a key file ingest does not start, unless open
intake is asked for explicitly (`SWITCHBOARD_INGEST_ALLOW_OPEN=true`).
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path

from fastapi import Request

from switchboard_shared.events import Source
from switchboard_shared.problems import ProblemError

log = logging.getLogger(__name__)

ANY_SOURCE = "*"


def hash_key(key: str) -> str:
    """The stored form of an API key."""
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True)
class ApiKey:
    """A known key: its name, the sources it may post for, its agency and its hash."""

    name: str
    sources: frozenset[str]
    agency: str = ""
    # The key's SHA-256 (what the key file holds): names the key to the rate
    # limiter without the key itself ever being kept or logged.
    digest: str = ""

    def allows(self, source: str) -> bool:
        """True when this key may post mentions of `source`."""
        return ANY_SOURCE in self.sources or source in self.sources


class KeyFileError(ValueError):
    """An API key file that cannot be used; the message names the entry and field."""


class ApiKeys:
    """The known keys, by hash. `open` when no key file is configured."""

    def __init__(self, keys: dict[str, ApiKey] | None) -> None:
        self._keys = keys

    @property
    def open(self) -> bool:
        """True when intake needs no key (development only)."""
        return self._keys is None

    @classmethod
    def load(cls, path: Path | None, *, allow_open: bool = False) -> ApiKeys:
        """Keys from the JSON file at `path`; no file is open intake, only if `allow_open`."""
        if path is None:
            if not allow_open:
                raise KeyFileError(
                    "no API keys file: set SWITCHBOARD_INGEST_API_KEYS_FILE (mint keys with "
                    "`switchboard new-api-key`), or set SWITCHBOARD_INGEST_ALLOW_OPEN=true to "
                    "accept mentions from anyone (development only)"
                )
            log.warning(
                "no API key file and SWITCHBOARD_INGEST_ALLOW_OPEN=true: anyone can post "
                "mentions (development only)"
            )
            return cls(None)
        try:
            entries = json.loads(path.read_text("utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise KeyFileError(f"{path}: {exc}") from exc
        if not isinstance(entries, list):
            raise KeyFileError(f"{path}: a JSON list of keys is required")
        valid_sources = {s.value for s in Source} | {ANY_SOURCE}
        keys = {}
        for index, entry in enumerate(entries):
            where = f"{path}[{index}]"
            if not isinstance(entry, dict):
                raise KeyFileError(f"{where}: an object is required")
            digest, name, sources = entry.get("sha256"), entry.get("name"), entry.get("sources")
            agency = entry.get("agency", name)
            if not isinstance(name, str) or not name:
                raise KeyFileError(f"{where}.name: a non-empty string is required")
            if not isinstance(digest, str) or len(digest) != 64:
                raise KeyFileError(
                    f"{where}.sha256: the 64-character hex SHA-256 of the key is required"
                )
            if not isinstance(sources, list) or not sources or not set(sources) <= valid_sources:
                raise KeyFileError(
                    f"{where}.sources: a list of sources from {sorted(valid_sources)}"
                )
            if not isinstance(agency, str) or not agency:
                raise KeyFileError(f"{where}.agency: a non-empty string is required")
            keys[digest.lower()] = ApiKey(
                name=name, sources=frozenset(sources), agency=agency, digest=digest.lower()
            )
        return cls(keys)

    def authenticate(self, request: Request) -> ApiKey | None:
        """The request's key, None when intake is open; raise a 401 problem otherwise."""
        if self._keys is None:
            return None
        presented = request.headers.get("x-api-key")
        authorization = request.headers.get("authorization", "")
        if presented is None and authorization.lower().startswith("bearer "):
            presented = authorization[7:].strip()
        if not presented:
            raise _unauthorized(
                "API key required",
                "send the key as 'Authorization: Bearer <key>' or 'X-API-Key: <key>'",
            )
        key = self._keys.get(hash_key(presented))
        if key is None:
            raise _unauthorized(
                "Unknown API key", "the API key is not known", challenge=', error="invalid_token"'
            )
        return key


def _unauthorized(title: str, detail: str, *, challenge: str = "") -> ProblemError:
    """The 401 answer, with the Bearer challenge (and what was wrong with the token, if any)."""
    headers = {"WWW-Authenticate": f'Bearer realm="switchboard-ingest"{challenge}'}
    return ProblemError(401, "unauthorized", title, detail, headers=headers)


def forbidden(key: ApiKey, source: str) -> ProblemError:
    """The 403 answer for a key posting outside its scope."""
    return ProblemError(
        403,
        "forbidden-source",
        "Source not allowed for this key",
        f"source: key {key.name!r} may not post mentions from {source!r}",
    )
