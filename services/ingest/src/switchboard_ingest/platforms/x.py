"""X account activity: a delivery's created tweets, read field by field into platform posts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from switchboard_ingest.platforms.posts import (
    Mapped,
    MappingError,
    PlatformPost,
    Unmappable,
    _count,
    _id,
    _lenient_object,
    _list,
    _object,
    _optional_object,
    _raw,
    _required_id,
    _string,
    _urls,
    parse_unix_or_iso,
    to_mention,
)
from switchboard_shared.events import Source

# X marks text it could not attribute to a language with these codes
# (undetermined, media/hashtag/cashtag/mention only, no linguistic content).
X_UNKNOWN_LANGUAGES = frozenset({"und", "qam", "qct", "qht", "qme", "qst", "zxx"})

_MONTHS = {
    name: number
    for number, name in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"),
        start=1,
    )
}


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
