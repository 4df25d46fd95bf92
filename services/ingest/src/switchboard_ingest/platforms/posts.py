"""One platform post in neutral names, its canonical mention, and the readers the mappers share.

`to_mention` is the one place a post becomes a canonical mention; the field
readers (underscored: `x` and `meta` use them, nothing outside this package
does) raise `MappingError` naming the payload field at fault.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from switchboard_shared.events import MentionIn, Source

# Unix times above this are milliseconds, not seconds (it is the year 5138 in seconds).
_MILLISECONDS_FROM = 100_000_000_000


class MappingError(ValueError):
    """A platform item that cannot become a canonical mention, naming the field at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Unmappable:
    """An item of a verified payload that could not be mapped, with the error and its raw JSON."""

    source: str
    error: str
    raw: str
    source_id: str | None = None


@dataclass
class Mapped:
    """Everything one payload yielded: mentions, items that could not be mapped, items ignored."""

    mentions: list[MentionIn] = field(default_factory=list)
    unmappable: list[Unmappable] = field(default_factory=list)
    ignored: int = 0


@dataclass(frozen=True)
class PlatformPost:
    """What a platform said about one post or comment, in neutral names, before validation.

    `origins` maps a canonical field (dotted, e.g. "author.handle") to where
    its value came from in the payload, so a validation error names the
    platform's field rather than ours.
    """

    source: Source
    source_id: str
    text: str
    created_at: datetime
    origins: Mapping[str, str]
    author_handle: str | None = None
    author_name: str | None = None
    author_followers: int | None = None
    author_verified: bool = False
    url: str | None = None
    language: str | None = None
    lat_lon: tuple[float, float] | None = None
    account_id: str | None = None
    author_id: str | None = None
    reply_to_id: str | None = None
    quote_of_id: str | None = None
    repost_of_id: str | None = None
    media_urls: tuple[str, ...] = ()
    link_urls: tuple[str, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)


def to_mention(post: PlatformPost) -> MentionIn:
    """The canonical mention of a platform post; MappingError names the payload field at fault."""
    author = None
    if post.author_handle is not None:
        author = {
            "handle": post.author_handle,
            "display_name": post.author_name,
            "follower_count": post.author_followers,
            "verified": post.author_verified,
        }
    geo = None if post.lat_lon is None else {"lat": post.lat_lon[0], "lon": post.lat_lon[1]}
    references = [
        {"kind": kind, "source_id": ref_id}
        for kind, ref_id in (
            ("reply", post.reply_to_id),
            ("quote", post.quote_of_id),
            ("repost", post.repost_of_id),
        )
        if ref_id
    ]
    media = [{"url": url, "kind": "image"} for url in post.media_urls] + [
        {"url": url, "kind": "link"} for url in post.link_urls
    ]
    metadata: dict[str, Any] = {
        "account_id": post.account_id,
        "author_id": post.author_id,
        **post.extra,
    }
    candidate = {
        "source": post.source,
        "source_id": post.source_id,
        "text": post.text,
        "created_at": post.created_at,
        "author": author,
        "url": post.url,
        "language": post.language,
        "geo": geo,
        "references": references,
        "media": media,
        "metadata": {key: value for key, value in metadata.items() if value not in (None, [])},
    }
    try:
        return MentionIn.model_validate(candidate)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        canonical = ".".join(str(part) for part in first["loc"])
        raise MappingError(_origin(post.origins, canonical), first["msg"]) from exc


def _origin(origins: Mapping[str, str], canonical: str) -> str:
    parts = canonical.split(".")
    while parts:
        found = origins.get(".".join(parts))
        if found is not None:
            return found
        parts.pop()
    return canonical


def _raw(item: Any) -> str:
    return json.dumps(item, ensure_ascii=False, separators=(",", ":"), default=str)


def _object(value: Any, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise MappingError(path, "an object is required")
    return value


def _lenient_object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _urls(items: Any, *keys: str) -> tuple[str, ...]:
    """The first of `keys` that is a string in each object of `items`, skipping the rest."""
    found = []
    for item in items if isinstance(items, list) else ():
        for key in keys:
            value = item.get(key) if isinstance(item, dict) else None
            if isinstance(value, str) and value:
                found.append(value)
                break
    return tuple(found)


def _optional_object(container: Mapping[str, Any], key: str, path: str) -> dict[str, Any]:
    value = container.get(key)
    return {} if value is None else _object(value, f"{path}.{key}")


def _list(container: Mapping[str, Any], key: str, path: str) -> list[Any]:
    value = container.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise MappingError(f"{path}.{key}" if path else key, "a list is required")
    return value


def _id(container: Mapping[str, Any], key: str, path: str) -> str | None:
    """An id as a string; platforms send ids as strings, numbers would lose precision."""
    value = container.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise MappingError(f"{path}.{key}", "an id (string) is required")
    return str(value)


def _required_id(container: Mapping[str, Any], key: str, path: str) -> str:
    value = _id(container, key, path)
    if value is None:
        raise MappingError(f"{path}.{key}", "missing")
    return value


def _string(container: Mapping[str, Any], key: str, path: str) -> str | None:
    value = container.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise MappingError(f"{path}.{key}", "a string is required")
    return value


def _count(container: Mapping[str, Any], key: str) -> int | None:
    value = container.get(key)
    # A missing or odd follower count is no reason to lose the mention.
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def parse_unix_or_iso(value: Any, path: str) -> datetime:
    """A Meta time (Unix seconds or milliseconds, or ISO 8601 with an offset) as an aware datetime."""
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = value / 1000 if value >= _MILLISECONDS_FROM else value
        try:
            return datetime.fromtimestamp(seconds, UTC)
        except (OverflowError, OSError, ValueError) as exc:
            raise MappingError(path, f"not a Unix time: {value!r}") from exc
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError as exc:
            raise MappingError(path, f"not an ISO 8601 time: {value!r}") from exc
        if parsed.tzinfo is None:
            # Guessing a zone would misplace the mention in time; refuse instead.
            raise MappingError(path, f"time without a timezone: {value!r}")
        return parsed
    raise MappingError(path, "a Unix time or an ISO 8601 time is required")
