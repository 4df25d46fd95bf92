"""What platform webhooks say, turned into canonical mentions: signatures, handshakes, mapping.

This module owns the platforms' wire formats: how X and Meta sign a delivery,
how their handshakes are answered, and how a tweet or a Meta change becomes a
`MentionIn`. It is pure (no HTTP, no Kafka) so every shape can be tested on
its own; `webhooks.py` does the doors and the writing.

Each platform is first read into a `PlatformPost` (what the platform said, in
neutral names) and `to_mention` is the one place a post becomes a canonical
mention, so platform extras that now travel in `metadata` can move to
dedicated fields of `MentionIn` by changing that function alone.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from switchboard_ingest.doors import UNKNOWN_SOURCE
from switchboard_shared.events import MentionIn, Source

X_SIGNATURE_HEADER = "x-twitter-webhooks-signature"
META_SIGNATURE_HEADER = "x-hub-signature-256"

# X marks text it could not attribute to a language with these codes
# (undetermined, media/hashtag/cashtag/mention only, no linguistic content).
X_UNKNOWN_LANGUAGES = frozenset({"und", "qam", "qct", "qht", "qme", "qst", "zxx"})

# A Facebook feed change with one of these items is a piece of text somebody
# wrote: when it has no message something is wrong and it is dead-lettered.
FACEBOOK_TEXT_ITEMS = frozenset({"post", "status", "comment"})
# These items may carry a caption; without one there is nothing to triage.
FACEBOOK_CAPTIONED_ITEMS = frozenset({"photo", "video", "share"})
FACEBOOK_FIELDS = frozenset({"feed", "mention"})
INSTAGRAM_FIELDS = frozenset({"comments", "live_comments", "mentions"})

_MONTHS = {
    name: number
    for number, name in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"),
        start=1,
    )
}
# Unix times above this are milliseconds, not seconds (it is the year 5138 in seconds).
_MILLISECONDS_FROM = 100_000_000_000


# --- signatures and handshakes ---------------------------------------------


def _hmac_sha256(secret: str, message: bytes) -> bytes:
    return hmac.new(secret.encode(), message, hashlib.sha256).digest()


def x_signature(consumer_secret: str, body: bytes) -> str:
    """The `x-twitter-webhooks-signature` X sends with `body`: sha256=<base64 HMAC>."""
    return "sha256=" + base64.b64encode(_hmac_sha256(consumer_secret, body)).decode()


# X's challenge-response check signs the CRC token with the very HMAC that
# signs deliveries (X fixes both formulas), so an endpoint that signed any
# string would sign any body: an attacker would ask for a tweet's signature
# and post the tweet. The CRC endpoint answers only tokens of this shape (X's
# are opaque random strings, base64-like, tens of characters), and the
# delivery endpoint refuses any body of this shape: no '{', '"', ':' or space,
# so no JSON object, and no body the CRC endpoint signs, is ever accepted.
X_CRC_TOKEN_MAX_CHARS = 255
X_CRC_TOKEN = re.compile(rf"[A-Za-z0-9_\-=+/]{{1,{X_CRC_TOKEN_MAX_CHARS}}}")


def is_x_crc_token(text: str | bytes) -> bool:
    """True when `text` has the shape of an X CRC token (what the CRC endpoint signs)."""
    if isinstance(text, bytes):
        try:
            text = text.decode("ascii")
        except UnicodeDecodeError:
            return False
    return X_CRC_TOKEN.fullmatch(text) is not None


def x_crc_response_token(consumer_secret: str, crc_token: str) -> str:
    """The `response_token` that answers X's challenge-response check of `crc_token`.

    Refuses (ValueError) a token that is not shaped like X's: see `X_CRC_TOKEN`.
    """
    if not is_x_crc_token(crc_token):
        raise ValueError("not an X CRC token")
    return x_signature(consumer_secret, crc_token.encode())


def meta_signature(app_secret: str, body: bytes) -> str:
    """The `X-Hub-Signature-256` Meta sends with `body`: sha256=<hex HMAC>."""
    return "sha256=" + _hmac_sha256(app_secret, body).hex()


def same_secret(expected: str, presented: str | None) -> bool:
    """Whether `presented` equals `expected`, in time that does not depend on where they differ."""
    if presented is None:
        return False
    # compare_digest refuses non-ASCII str; bytes take whatever a client sent.
    return hmac.compare_digest(expected.encode(), presented.encode())


# --- mapping ----------------------------------------------------------------


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


def parse_x_time(value: str, path: str) -> datetime:
    """A v1.1 `created_at` ("Wed Oct 10 20:19:24 +0000 2018") as an aware datetime."""
    parts = value.split()
    # Month names are read from a table, not strptime's %b, which follows the locale.
    if len(parts) != 6 or parts[1] not in _MONTHS:
        raise MappingError(path, f"not an X timestamp: {value!r}")
    _, month, day, clock, offset, year = parts
    try:
        return datetime.strptime(
            f"{year} {_MONTHS[month]} {day} {clock} {offset}", "%Y %m %d %H:%M:%S %z"
        )
    except ValueError as exc:
        raise MappingError(path, f"not an X timestamp: {value!r}") from exc


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


# --- X ----------------------------------------------------------------------


def map_x_payload(payload: Any) -> Mapped:
    """The mentions in an X account-activity delivery; other event kinds are counted as ignored."""
    mapped = Mapped()
    if not isinstance(payload, dict):
        mapped.unmappable.append(
            Unmappable(Source.X.value, "(body): an object is required", _raw(payload))
        )
        return mapped
    for_user_id = payload.get("for_user_id")
    account_id = for_user_id if isinstance(for_user_id, str) and for_user_id else None
    for key, events in payload.items():
        if key.endswith("_events") and key != "tweet_create_events" and isinstance(events, list):
            mapped.ignored += len(events)
    try:
        tweets = _list(payload, "tweet_create_events", "")
    except MappingError as exc:
        mapped.unmappable.append(
            Unmappable(Source.X.value, str(exc), _raw(payload.get("tweet_create_events")))
        )
        return mapped
    for index, tweet in enumerate(tweets):
        path = f"tweet_create_events.{index}"
        try:
            mapped.mentions.append(to_mention(x_post(tweet, path, account_id=account_id)))
        except MappingError as exc:
            source_id = tweet.get("id_str") if isinstance(tweet, dict) else None
            mapped.unmappable.append(
                Unmappable(
                    Source.X.value,
                    str(exc),
                    _raw(tweet),
                    source_id if isinstance(source_id, str) and source_id else None,
                )
            )
    return mapped


def x_post(tweet: Any, path: str, *, account_id: str | None = None) -> PlatformPost:
    """What a v1.1 tweet object says, read field by field."""
    tweet = _object(tweet, path)
    tweet_id = _id(tweet, "id_str", path) or _required_id(tweet, "id", path)
    extended = _optional_object(tweet, "extended_tweet", path)
    # A long tweet arrives truncated in `text` with the whole of it in extended_tweet.
    text, text_path = None, f"{path}.text"
    for container, parent, key in (
        (extended, f"{path}.extended_tweet", "full_text"),
        (tweet, path, "full_text"),
        (tweet, path, "text"),
    ):
        text = _string(container, key, parent)
        if text:
            text_path = f"{parent}.{key}"
            break
    if not text:
        raise MappingError(text_path, "missing")

    created_raw = _string(tweet, "created_at", path)
    if created_raw is not None:
        created_at = parse_x_time(created_raw, f"{path}.created_at")
    elif tweet.get("timestamp_ms") is not None:
        created_at = parse_unix_or_iso(tweet["timestamp_ms"], f"{path}.timestamp_ms")
    else:
        raise MappingError(f"{path}.created_at", "missing")

    user = _object(tweet.get("user"), f"{path}.user")
    handle = _string(user, "screen_name", f"{path}.user")
    if not handle:
        raise MappingError(f"{path}.user.screen_name", "missing")

    language = _string(tweet, "lang", path)
    if language in X_UNKNOWN_LANGUAGES:
        language = None

    lat_lon = None
    coordinates = tweet.get("coordinates")
    if isinstance(coordinates, dict):
        point = coordinates.get("coordinates")
        if not (
            isinstance(point, list)
            and len(point) == 2
            and all(isinstance(c, int | float) and not isinstance(c, bool) for c in point)
        ):
            raise MappingError(f"{path}.coordinates.coordinates", "[longitude, latitude] expected")
        # GeoJSON order: longitude first.
        lat_lon = (float(point[1]), float(point[0]))

    # Links and media are extras: odd entities never cost the mention itself.
    holder = extended or tweet
    entities = _lenient_object(holder.get("entities"))
    media = _lenient_object(holder.get("extended_entities")) or entities
    media_urls = _urls(media.get("media"), "media_url_https", "media_url")
    link_urls = _urls(entities.get("urls"), "expanded_url", "url")
    retweeted = tweet.get("retweeted_status")
    place = tweet.get("place")
    place_name = place.get("full_name") if isinstance(place, dict) else None
    return PlatformPost(
        source=Source.X,
        source_id=tweet_id,
        text=text,
        created_at=created_at,
        origins={
            "source_id": f"{path}.id_str",
            "text": text_path,
            "created_at": f"{path}.created_at",
            "author": f"{path}.user",
            "author.handle": f"{path}.user.screen_name",
            "author.display_name": f"{path}.user.name",
            "url": f"{path}.user.screen_name",
            "language": f"{path}.lang",
            "geo": f"{path}.coordinates.coordinates",
            "metadata": path,
        },
        author_handle=handle,
        author_name=_string(user, "name", f"{path}.user"),
        author_followers=_count(user, "followers_count"),
        author_verified=user.get("verified") is True,
        url=f"https://x.com/{handle}/status/{tweet_id}",
        language=language,
        lat_lon=lat_lon,
        account_id=account_id,
        author_id=_id(user, "id_str", f"{path}.user"),
        reply_to_id=_id(tweet, "in_reply_to_status_id_str", path),
        quote_of_id=_id(tweet, "quoted_status_id_str", path),
        repost_of_id=(
            _id(retweeted, "id_str", f"{path}.retweeted_status")
            if isinstance(retweeted, dict)
            else None
        ),
        media_urls=media_urls,
        link_urls=link_urls,
        extra={"place": place_name} if isinstance(place_name, str) else {},
    )


# --- Meta (Facebook pages, Instagram) ----------------------------------------


def map_meta_payload(payload: Any) -> Mapped:
    """The mentions in a Meta webhook delivery (Page feed or Instagram); other changes are ignored."""
    mapped = Mapped()
    obj = payload.get("object") if isinstance(payload, dict) else None
    if obj == "page":
        source, read_change = Source.FACEBOOK, facebook_change
    elif obj == "instagram":
        source, read_change = Source.INSTAGRAM, instagram_change
    elif isinstance(payload, dict) and isinstance(obj, str):
        # A subscription to some other Meta product: nothing here to triage.
        mapped.ignored += 1
        return mapped
    else:
        mapped.unmappable.append(
            Unmappable(UNKNOWN_SOURCE, "object: 'page' or 'instagram' is required", _raw(payload))
        )
        return mapped
    assert isinstance(payload, dict)
    try:
        entries = _list(payload, "entry", "")
    except MappingError as exc:
        mapped.unmappable.append(Unmappable(source.value, str(exc), _raw(payload)))
        return mapped
    for entry_index, entry in enumerate(entries):
        entry_path = f"entry.{entry_index}"
        try:
            entry = _object(entry, entry_path)
            changes = _list(entry, "changes", entry_path)
        except MappingError as exc:
            mapped.unmappable.append(Unmappable(source.value, str(exc), _raw(entry)))
            continue
        for change_index, change in enumerate(changes):
            path = f"{entry_path}.changes.{change_index}"
            try:
                post = read_change(change, entry, path)
                if post is None:
                    mapped.ignored += 1
                    continue
                mapped.mentions.append(to_mention(post))
            except MappingError as exc:
                mapped.unmappable.append(
                    Unmappable(source.value, str(exc), _raw(change), _change_id(change))
                )
    return mapped


def _change_id(change: Any) -> str | None:
    value = change.get("value") if isinstance(change, dict) else None
    if not isinstance(value, dict):
        return None
    for key in ("comment_id", "post_id", "id"):
        found = value.get(key)
        if isinstance(found, str) and found:
            return found
    return None


def _meta_created_at(value: Mapping[str, Any], entry: Mapping[str, Any], path: str) -> datetime:
    if value.get("created_time") is not None:
        return parse_unix_or_iso(value["created_time"], f"{path}.value.created_time")
    # The change itself is undated: the entry's time is when Meta saw it.
    entry_path = path.rsplit(".changes.", 1)[0]
    if entry.get("time") is None:
        raise MappingError(f"{path}.value.created_time", "missing, and the entry has no time")
    return parse_unix_or_iso(entry["time"], f"{entry_path}.time")


def facebook_change(change: Any, entry: Mapping[str, Any], path: str) -> PlatformPost | None:
    """The post or comment a Page feed change adds, or None for changes that add no text."""
    change = _object(change, path)
    value = _object(change.get("value"), f"{path}.value")
    item = value.get("item")
    if change.get("field") not in FACEBOOK_FIELDS or value.get("verb", "add") != "add":
        return None
    if item not in FACEBOOK_TEXT_ITEMS and item not in FACEBOOK_CAPTIONED_ITEMS:
        return None  # reactions, likes, page events: no text to triage
    message = _string(value, "message", f"{path}.value")
    if item in FACEBOOK_CAPTIONED_ITEMS and not message:
        return None
    if not message:
        raise MappingError(f"{path}.value.message", "missing")
    comment_id = _id(value, "comment_id", f"{path}.value")
    post_id = _id(value, "post_id", f"{path}.value")
    source_id = comment_id or post_id
    if source_id is None:
        raise MappingError(f"{path}.value.post_id", "missing (and no comment_id)")
    sender = _optional_object(value, "from", f"{path}.value")
    sender_id = _id(sender, "id", f"{path}.value.from")
    # Page feed senders have no public username: the id is the stable handle.
    handle = sender_id
    parent_id = _id(value, "parent_id", f"{path}.value") if comment_id else None
    return PlatformPost(
        source=Source.FACEBOOK,
        source_id=source_id,
        text=message,
        created_at=_meta_created_at(value, entry, path),
        origins={
            "source_id": f"{path}.value.{'comment_id' if comment_id else 'post_id'}",
            "text": f"{path}.value.message",
            "created_at": f"{path}.value.created_time",
            "author": f"{path}.value.from",
            "author.handle": f"{path}.value.from.id",
            "author.display_name": f"{path}.value.from.name",
            "url": f"{path}.value.{'comment_id' if comment_id else 'post_id'}",
            "metadata": f"{path}.value",
        },
        author_handle=handle,
        author_name=_string(sender, "name", f"{path}.value.from"),
        url=f"https://www.facebook.com/{source_id}",
        account_id=_id(entry, "id", path.rsplit(".changes.", 1)[0]),
        author_id=sender_id,
        reply_to_id=(parent_id or post_id) if comment_id else None,
        link_urls=tuple(
            url for url in (value.get("link"),) if isinstance(url, str) and url.startswith("http")
        ),
        media_urls=tuple(
            url for url in (value.get("photo"),) if isinstance(url, str) and url.startswith("http")
        ),
        extra={"event": f"{change.get('field')}.{item}"},
    )


def instagram_change(change: Any, entry: Mapping[str, Any], path: str) -> PlatformPost | None:
    """The comment or mention an Instagram change adds, or None for fields with no text."""
    change = _object(change, path)
    field_name = change.get("field")
    if field_name not in INSTAGRAM_FIELDS:
        return None
    value = _object(change.get("value"), f"{path}.value")
    source_id = (
        _id(value, "id", f"{path}.value")
        or _id(value, "comment_id", f"{path}.value")
        or _id(value, "media_id", f"{path}.value")
    )
    if source_id is None:
        raise MappingError(f"{path}.value.id", "missing")
    text = _string(value, "text", f"{path}.value")
    if not text:
        raise MappingError(f"{path}.value.text", "missing")
    sender = _optional_object(value, "from", f"{path}.value")
    media = _optional_object(value, "media", f"{path}.value")
    parent_id = _id(value, "parent_id", f"{path}.value")
    media_id = _id(media, "id", f"{path}.value.media") or _id(value, "media_id", f"{path}.value")
    return PlatformPost(
        source=Source.INSTAGRAM,
        source_id=source_id,
        text=text,
        created_at=_meta_created_at(value, entry, path),
        origins={
            "source_id": f"{path}.value.id",
            "text": f"{path}.value.text",
            "created_at": f"{path}.value.created_time",
            "author": f"{path}.value.from",
            "author.handle": f"{path}.value.from.username",
            "metadata": f"{path}.value",
        },
        author_handle=_string(sender, "username", f"{path}.value.from"),
        account_id=_id(entry, "id", path.rsplit(".changes.", 1)[0]),
        author_id=_id(sender, "id", f"{path}.value.from"),
        reply_to_id=parent_id or media_id,
        extra={"event": field_name, "media_id": media_id},
    )
