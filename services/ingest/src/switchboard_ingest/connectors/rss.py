"""The RSS/Atom connector: polls one feed politely and submits its new entries.

Owns the feed's HTTP conversation (conditional GET, User-Agent, back-off), the
mapping of a feedparser entry to a canonical mention, and the feed's cursor:
which entry ids were answered for, plus the validators of the last response
that was fully processed. The fetch goes through `egress` (vetted addresses,
capped redirects and body); the XML is parsed in a worker thread, by feedparser,
which drops entity declarations other than plain literals and never fetches
external ones (a test holds it to that).
"""

from __future__ import annotations

import asyncio
import calendar
import hashlib
import io
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

import feedparser  # type: ignore[import-untyped]
import httpx

from switchboard_ingest.connectors.common import (
    MAPPING_ERRORS,
    Backoff,
    PeerError,
    PullConnector,
    bound_or_none,
    bound_text,
    retry_after_seconds,
    strip_html,
    utc_now,
)
from switchboard_ingest.connectors.cursor import CursorStore
from switchboard_ingest.connectors.egress import (
    EgressPolicy,
    open_response,
    read_capped,
)
from switchboard_ingest.doors import Door
from switchboard_ingest.intake import Intake, Outcome
from switchboard_shared.events import Author, MentionIn, Source
from switchboard_shared.logs import fields
from switchboard_shared.ratelimit import Limit

log = logging.getLogger(__name__)

VIA = Door.RSS
USER_AGENT = "Switchboard/0.1 (public-mention triage; RSS poller)"
# Feeds carry tens of entries; a few thousand ids cover any feed's window.
MAX_REMEMBERED_IDS = 5000
MAX_SOURCE_ID_CHARS = 256
MAX_URL_CHARS = 2048
MAX_HANDLE_CHARS = 256
ERROR_BACKOFF_CAP_SECONDS = 1800.0


class FeedError(PeerError):
    """A poll that did not yield a feed (HTTP error status, or not a feed at all)."""


# --- pure mapping -----------------------------------------------------------


def entry_source_id(entry: Mapping[str, Any]) -> str:
    """The entry's stable id: its id, else its link, else a hash of title and link."""
    candidate = (entry.get("id") or entry.get("link") or "").strip()
    if not candidate:
        seed = f"{entry.get('title', '')}\n{entry.get('link', '')}"
        return "sha256:" + hashlib.sha256(seed.encode()).hexdigest()
    if len(candidate) > MAX_SOURCE_ID_CHARS:
        # Canonical source ids are bounded; a hash keeps an overlong id stable.
        return "sha256:" + hashlib.sha256(candidate.encode()).hexdigest()
    return candidate


def _struct_to_datetime(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        # feedparser normalises dates to UTC struct_time.
        return datetime.fromtimestamp(calendar.timegm(value), tz=UTC)
    except (TypeError, ValueError, OverflowError):
        return None


def entry_time(entry: Mapping[str, Any]) -> datetime | None:
    """When the entry was published (else updated), aware in UTC; None when undated."""
    return _struct_to_datetime(entry.get("published_parsed")) or _struct_to_datetime(
        entry.get("updated_parsed")
    )


def _entry_body(entry: Mapping[str, Any]) -> str:
    summary = entry.get("summary")
    if summary:
        return str(summary)
    for content in entry.get("content") or ():
        value = content.get("value") if isinstance(content, Mapping) else None
        if value:
            return str(value)
    return ""


def entry_text(entry: Mapping[str, Any]) -> str:
    """Title and summary as plain text, bounded to the canonical text limit."""
    title = strip_html(str(entry.get("title") or ""))
    body = strip_html(_entry_body(entry))
    parts = [title] if title else []
    if body and body != title:
        parts.append(body)
    return bound_text("\n\n".join(parts))


def entry_to_mention(
    entry: Mapping[str, Any], *, feed_url: str, feed_title: str | None, now: datetime
) -> MentionIn:
    """The canonical mention of one feed entry; raises ValueError when it cannot be one."""
    author_name = bound_or_none(str(entry.get("author") or ""), MAX_HANDLE_CHARS)
    handle = author_name or bound_or_none(feed_title, MAX_HANDLE_CHARS)
    link = entry.get("link")
    url = urljoin(feed_url, link) if isinstance(link, str) and link else None
    return MentionIn(
        source=Source.RSS,
        source_id=entry_source_id(entry),
        text=entry_text(entry),
        created_at=entry_time(entry) or now,
        url=url if url and len(url) <= MAX_URL_CHARS else None,
        author=Author(handle=handle) if handle else None,
        metadata={"feed": feed_url},
    )


def oldest_first(entries: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The entries in the order they were written: by date when all are dated, else reversed."""
    # Feeds list newest first by convention; reversing is the fallback for undated entries.
    reversed_entries = list(reversed(entries))
    times = [entry_time(entry) for entry in reversed_entries]
    if all(moment is not None for moment in times):
        order = sorted(range(len(reversed_entries)), key=lambda i: (times[i], i))
        return [reversed_entries[i] for i in order]
    return reversed_entries


def rss_connector_names(feed_urls: Sequence[str]) -> list[str]:
    """A unique name per feed: `rss:<host>`, with a short hash where hosts repeat."""
    hosts = [urlsplit(url).hostname or "feed" for url in feed_urls]
    names = []
    for url, host in zip(feed_urls, hosts, strict=True):
        if hosts.count(host) == 1:
            names.append(f"rss:{host}")
        else:
            names.append(f"rss:{host}:{hashlib.sha256(url.encode()).hexdigest()[:8]}")
    return names


# --- cursor -----------------------------------------------------------------


@dataclass
class FeedCursor:
    """How far one feed has been taken: answered entry ids and the last validators."""

    feed_url: str
    etag: str | None = None
    modified: str | None = None
    # A dict as an ordered set: oldest remembered first, so the bound drops the oldest.
    answered: dict[str, None] = field(default_factory=dict)

    def remember(self, source_id: str) -> None:
        """Record that intake answered for `source_id` (oldest ids beyond the bound are forgotten)."""
        self.answered.pop(source_id, None)
        self.answered[source_id] = None
        while len(self.answered) > MAX_REMEMBERED_IDS:
            del self.answered[next(iter(self.answered))]

    def to_json(self) -> dict[str, Any]:
        """The cursor as stored."""
        return {
            "version": 1,
            "feed_url": self.feed_url,
            "etag": self.etag,
            "modified": self.modified,
            "answered": list(self.answered),
        }

    @classmethod
    def from_json(cls, feed_url: str, data: Mapping[str, Any] | None) -> FeedCursor:
        """The stored cursor of `feed_url`, or an empty one (also when stored for another feed)."""
        cursor = cls(feed_url=feed_url)
        if not data or data.get("feed_url") != feed_url:
            return cursor
        cursor.etag = data.get("etag") or None
        cursor.modified = data.get("modified") or None
        for source_id in data.get("answered") or ():
            cursor.remember(str(source_id))
        return cursor


# --- I/O --------------------------------------------------------------------


class RssConnector(PullConnector):
    """Polls one RSS/Atom feed and submits each new entry once, oldest first."""

    via = VIA
    source = Source.RSS
    user_agent = USER_AGENT

    def __init__(
        self,
        *,
        name: str,
        feed_url: str,
        intake: Intake,
        store: CursorStore,
        poll_seconds: float,
        policy: EgressPolicy | None = None,
        http: httpx.AsyncClient | None = None,
        error_backoff_cap: float = ERROR_BACKOFF_CAP_SECONDS,
        kafka_backoff: Backoff | None = None,
        pace: Limit | None = None,
    ) -> None:
        super().__init__(name, intake, store, policy, http, kafka_backoff, pace)
        self.feed_url = feed_url
        self.poll_seconds = poll_seconds
        self._error_backoff = Backoff(poll_seconds, max(poll_seconds, error_backoff_cap))
        self._cursor_key = f"rss {feed_url}"
        self._cursor = FeedCursor(feed_url=feed_url)

    async def run(self) -> None:
        """Poll until cancelled; errors are counted and backed off, never fatal."""
        await self.load_cursor()
        async with self._client() as http:
            while True:
                try:
                    await self.poll_once(http)
                except Exception as exc:  # a connector outlives any one bad poll
                    self._count_failure(exc)
                    delay = max(self._error_backoff.next_delay(), self._asked_delay(exc))
                    log.warning(
                        "feed poll failed; backing off",
                        extra=fields(
                            connector=self.name,
                            feed=self.feed_url,
                            error=repr(exc),
                            retry_in=round(delay, 2),
                        ),
                        exc_info=not self._is_expected_failure(exc),
                    )
                    await asyncio.sleep(delay)
                    continue
                self._error_backoff.reset()
                self._mark_success()
                self._report_lag()
                await asyncio.sleep(self.poll_seconds)

    async def load_cursor(self) -> None:
        """Read the feed's durable cursor (an empty one when none was saved)."""
        stored = await asyncio.to_thread(self.store.load, self._cursor_key)
        self._cursor = FeedCursor.from_json(self.feed_url, stored)

    async def poll_once(self, http: httpx.AsyncClient) -> None:
        """Fetch the feed (conditionally) and submit every entry not answered for yet."""
        headers = {
            "User-Agent": USER_AGENT,
            "Accept": "application/rss+xml, application/atom+xml, application/xml;q=0.9, */*;q=0.5",
        }
        if self._cursor.etag:
            headers["If-None-Match"] = self._cursor.etag
        if self._cursor.modified:
            headers["If-Modified-Since"] = self._cursor.modified
        async with open_response(
            http, self.feed_url, policy=self.policy, headers=headers
        ) as response:
            if response.status_code == 304:
                return
            if response.status_code != 200:
                raise FeedError(
                    f"HTTP {response.status_code}",
                    retry_after=retry_after_seconds(response.headers.get("retry-after")),
                )
            body = await read_capped(response, self.policy.max_body_bytes)
        # No content-location: feedparser would rewrite relative guids into URLs, and
        # source ids must stay exactly as the feed publishes them.
        response_headers = {key.lower(): value for key, value in response.headers.items()}
        # A file object, never bare bytes: feedparser tries to open a str/bytes as a path.
        parsed = await asyncio.to_thread(
            feedparser.parse, io.BytesIO(body), response_headers=response_headers
        )
        if not parsed.get("version") and not parsed.get("entries"):
            raise FeedError(f"not a feed: {parsed.get('bozo_exception')!r}")
        feed_title = parsed.get("feed", {}).get("title") or None
        for entry in oldest_first(parsed.get("entries") or []):
            await self._take(entry, feed_title)
        # Validators are saved only now that every entry of this response is answered
        # for: saved earlier, a restart would get 304 and never see the rest.
        etag = response.headers.get("etag")
        modified = response.headers.get("last-modified")
        if (etag, modified) != (self._cursor.etag, self._cursor.modified):
            self._cursor.etag, self._cursor.modified = etag, modified
            await self._save()

    async def _take(self, entry: Mapping[str, Any], feed_title: str | None) -> None:
        source_id = entry_source_id(entry)
        if source_id in self._cursor.answered:
            return
        try:
            # In a worker thread, as the parse was: HTML to text is pure Python, and
            # an entry can be megabytes of markup.
            mention = await asyncio.to_thread(
                entry_to_mention,
                entry,
                feed_url=self.feed_url,
                feed_title=feed_title,
                now=utc_now(),
            )
        except MAPPING_ERRORS as exc:
            await self._dead_letter(exc, json.dumps(entry, default=str, ensure_ascii=False))
        else:
            result = await self._submit(mention)
            if result.outcome is Outcome.ACCEPTED:
                self._note_accepted(mention.created_at)
        # Only now, with intake's answer in hand, does the cursor move past the entry.
        self._cursor.remember(source_id)
        await self._save()

    async def _save(self) -> None:
        await asyncio.to_thread(self.store.save, self._cursor_key, self._cursor.to_json())
