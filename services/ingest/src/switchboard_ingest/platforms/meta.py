"""Meta webhooks (Facebook Page feed, Instagram): the posts and comments a delivery adds."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from switchboard_ingest.doors import UNKNOWN_SOURCE
from switchboard_ingest.platforms.posts import (
    Mapped,
    MappingError,
    PlatformPost,
    Unmappable,
    _id,
    _list,
    _object,
    _optional_object,
    _raw,
    _string,
    parse_unix_or_iso,
    to_mention,
)
from switchboard_shared.events import Source

# A Facebook feed change with one of these items is a piece of text somebody
# wrote: when it has no message something is wrong and it is dead-lettered.
FACEBOOK_TEXT_ITEMS = frozenset({"post", "status", "comment"})
# These items may carry a caption; without one there is nothing to triage.
FACEBOOK_CAPTIONED_ITEMS = frozenset({"photo", "video", "share"})
FACEBOOK_FIELDS = frozenset({"feed", "mention"})
INSTAGRAM_FIELDS = frozenset({"comments", "live_comments", "mentions"})


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


def _origins(
    path: str, *, source_id: str, text: str, handle: str, more: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Where a change's canonical fields came from: keys of its `value` (and `value.from`)."""
    value = f"{path}.value"
    return {
        "source_id": f"{value}.{source_id}",
        "text": f"{value}.{text}",
        "created_at": f"{value}.created_time",
        "author": f"{value}.from",
        "author.handle": f"{value}.from.{handle}",
        **{field: f"{value}.{key}" for field, key in (more or {}).items()},
        "metadata": value,
    }


def _account_id(entry: Mapping[str, Any], path: str) -> str | None:
    """The id of the Page or Instagram account whose entry holds the change at `path`."""
    return _id(entry, "id", path.rsplit(".changes.", 1)[0])


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
    id_key = "comment_id" if comment_id else "post_id"
    return PlatformPost(
        source=Source.FACEBOOK,
        source_id=source_id,
        text=message,
        created_at=_meta_created_at(value, entry, path),
        origins=_origins(
            path,
            source_id=id_key,
            text="message",
            handle="id",
            more={"author.display_name": "from.name", "url": id_key},
        ),
        author_handle=handle,
        author_name=_string(sender, "name", f"{path}.value.from"),
        url=f"https://www.facebook.com/{source_id}",
        account_id=_account_id(entry, path),
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
        origins=_origins(path, source_id="id", text="text", handle="username"),
        author_handle=_string(sender, "username", f"{path}.value.from"),
        account_id=_account_id(entry, path),
        author_id=_id(sender, "id", f"{path}.value.from"),
        reply_to_id=parent_id or media_id,
        extra={"event": field_name, "media_id": media_id},
    )
