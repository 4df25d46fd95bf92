"""The Mastodon connector: follows one hashtag's live stream and backfills what it missed.

Owns the Mastodon protocol (the SSE hashtag stream and the REST tag timeline),
the mapping of a status to a canonical mention, and the cursor: the highest
status id intake has answered for. On every (re)connect the stream is opened
first and the gap since the cursor is filled from the timeline before streamed
statuses are taken, so nothing posted in between falls through.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import quote

import httpx

from switchboard_ingest.connectors.common import (
    MAPPING_ERRORS,
    Backoff,
    PeerError,
    PullConnector,
    as_utc,
    bound_or_none,
    bound_text,
    retry_after_seconds,
    strip_html,
)
from switchboard_ingest.connectors.cursor import CursorStore
from switchboard_ingest.connectors.egress import (
    EgressPolicy,
    open_response,
    read_capped,
)
from switchboard_ingest.connectors.sse import SseDecoder
from switchboard_ingest.doors import Door
from switchboard_ingest.intake import Intake, Outcome
from switchboard_ingest.platforms import MappingError
from switchboard_shared.events import Author, MentionIn, Source
from switchboard_shared.logs import fields
from switchboard_shared.ratelimit import Limit

log = logging.getLogger(__name__)

VIA = Door.MASTODON
USER_AGENT = "Switchboard/0.1 (public-mention triage; Mastodon hashtag follower)"
TIMELINE_PAGE_SIZE = 40  # Mastodon's maximum for timelines
# Mastodon sends a heartbeat comment every ~15 s; silence this long means a dead link.
STREAM_READ_TIMEOUT_SECONDS = 90.0
LANGUAGE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$")
_METADATA_FIELDS = (
    "in_reply_to_id",
    "in_reply_to_account_id",
    "visibility",
    "sensitive",
    "spoiler_text",
    "uri",
    "replies_count",
    "reblogs_count",
    "favourites_count",
)


class MastodonError(PeerError):
    """The instance answered something other than what the protocol promises."""


# --- pure mapping -----------------------------------------------------------


def status_id(status: Mapping[str, Any]) -> int:
    """The status's id as a number (Mastodon ids are numeric strings that grow over time)."""
    try:
        return int(str(status["id"]))
    except ValueError:
        raise MappingError("id", "not a numeric status id") from None


def status_text(status: Mapping[str, Any]) -> str:
    """The status as plain text: its content, else its content warning, else the boosted post's."""
    text = strip_html(str(status.get("content") or ""))
    if not text:
        text = str(status.get("spoiler_text") or "").strip()
    reblog = status.get("reblog")
    if not text and isinstance(reblog, Mapping):
        text = status_text(reblog)
    return bound_text(text)


def _status_author(account: Any) -> Author | None:
    if not isinstance(account, Mapping):
        return None
    handle = bound_or_none(str(account.get("acct") or account.get("username") or ""), 256)
    if handle is None:
        return None
    followers = account.get("followers_count")
    return Author(
        handle=handle,
        display_name=bound_or_none(str(account.get("display_name") or ""), 256),
        follower_count=followers if isinstance(followers, int) and followers >= 0 else None,
        verified=False,
    )


def _status_metadata(status: Mapping[str, Any]) -> dict[str, Any]:
    metadata: dict[str, Any] = {}
    for key in _METADATA_FIELDS:
        value = status.get(key)
        if isinstance(value, str | int | float | bool) and value != "":
            metadata[key] = value
    reblog = status.get("reblog")
    if isinstance(reblog, Mapping) and reblog.get("id") is not None:
        metadata["reblog"] = str(reblog["id"])
    return metadata


def status_to_mention(status: Mapping[str, Any]) -> MentionIn:
    """The canonical mention of one Mastodon status; raises ValueError when it cannot be one."""
    try:
        created_at = as_utc(datetime.fromisoformat(str(status["created_at"])))
    except ValueError:
        raise MappingError("created_at", "not an ISO 8601 time") from None
    url = status.get("url") or status.get("uri")
    language = status.get("language")
    return MentionIn(
        source=Source.MASTODON,
        source_id=str(status_id(status)),
        text=status_text(status),
        created_at=created_at,
        url=url if isinstance(url, str) and 0 < len(url) <= 2048 else None,
        author=_status_author(status.get("account")),
        language=language if isinstance(language, str) and LANGUAGE.match(language) else None,
        metadata=_status_metadata(status),
    )


# --- I/O --------------------------------------------------------------------


class MastodonConnector(PullConnector):
    """Follows one hashtag on one instance and submits each status once, in id order."""

    via = VIA
    source = Source.MASTODON
    user_agent = USER_AGENT

    def __init__(
        self,
        *,
        base_url: str,
        hashtag: str,
        intake: Intake,
        store: CursorStore,
        access_token: str | None = None,
        policy: EgressPolicy | None = None,
        http: httpx.AsyncClient | None = None,
        backoff: Backoff | None = None,
        kafka_backoff: Backoff | None = None,
        stream_read_timeout: float = STREAM_READ_TIMEOUT_SECONDS,
        pace: Limit | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.hashtag = hashtag.lstrip("#")
        super().__init__(
            f"mastodon:{self.hashtag}", intake, store, policy, http, kafka_backoff, pace
        )
        self._access_token = access_token
        self._backoff = backoff or Backoff(1.0, 300.0)
        self._stream_read_timeout = stream_read_timeout
        self._cursor_key = f"mastodon {self.base_url} #{self.hashtag}"
        self._last_id: int | None = None

    async def run(self) -> None:
        """Follow the hashtag until cancelled, reconnecting with back-off."""
        await self.load_cursor()
        async with self._client() as http:
            while True:
                asked = 0.0
                try:
                    await self.follow_once(http)
                    log.info("stream closed by the instance", extra=fields(connector=self.name))
                except Exception as exc:  # a connector outlives any one broken connection
                    self._count_failure(exc)
                    asked = self._asked_delay(exc)
                    log.warning(
                        "Mastodon connection failed; reconnecting after back-off",
                        extra=fields(connector=self.name, error=repr(exc)),
                        exc_info=not self._is_expected_failure(exc),
                    )
                await asyncio.sleep(max(self._backoff.next_delay(), asked))

    async def load_cursor(self) -> None:
        """Read the highest status id answered for (None when starting afresh)."""
        self._last_id = self._read_cursor(
            await asyncio.to_thread(self.store.load, self._cursor_key)
        )

    def _read_cursor(self, stored: Mapping[str, Any] | None) -> int | None:
        # A cursor of another instance or hashtag means nothing here.
        if not stored or (stored.get("base_url"), stored.get("hashtag")) != (
            self.base_url,
            self.hashtag,
        ):
            return None
        try:
            return int(str(stored["last_id"]))
        except (KeyError, ValueError):
            return None

    def _headers(self) -> dict[str, str]:
        headers = {"User-Agent": USER_AGENT}
        if self._access_token:
            headers["Authorization"] = f"Bearer {self._access_token}"
        return headers

    async def follow_once(self, http: httpx.AsyncClient) -> None:
        """Open the stream, backfill from the timeline, then take streamed statuses until it ends."""
        async with open_response(
            http,
            f"{self.base_url}/api/v1/streaming/hashtag",
            policy=self.policy,
            params={"tag": self.hashtag},
            headers={**self._headers(), "Accept": "text/event-stream"},
            timeouts=httpx.Timeout(30.0, read=self._stream_read_timeout),
        ) as response:
            if response.status_code != 200:
                # The error body is left unread: nothing in it is needed.
                raise MastodonError(
                    f"stream answered HTTP {response.status_code}",
                    retry_after=retry_after_seconds(response.headers.get("retry-after")),
                )
            # Subscribed first, backfilled second: whatever is posted meanwhile waits
            # in the stream, and the id check below drops what the backfill already took.
            await self.backfill(http)
            self._mark_success()
            decoder = SseDecoder(self.policy.max_line_bytes)
            async for chunk in response.aiter_bytes():
                self._backoff.reset()
                self._mark_success()
                for event in decoder.feed(chunk):
                    if event.event == "update":
                        await self._take_streamed(event.data)

    async def backfill(self, http: httpx.AsyncClient) -> None:
        """Take every status newer than the cursor from the tag timeline, oldest first."""
        url = f"{self.base_url}/api/v1/timelines/tag/{quote(self.hashtag, safe='')}"
        while True:
            params = {"limit": str(TIMELINE_PAGE_SIZE)}
            if self._last_id is not None:
                params["min_id"] = str(self._last_id)
            async with open_response(
                http, url, policy=self.policy, params=params, headers=self._headers()
            ) as response:
                if response.status_code != 200:
                    raise MastodonError(
                        f"tag timeline answered HTTP {response.status_code}",
                        retry_after=retry_after_seconds(response.headers.get("retry-after")),
                    )
                body = await read_capped(response, self.policy.max_body_bytes)
            # Parsed in a worker thread: a page of megabytes must not stall intake.
            page = await asyncio.to_thread(json.loads, body)
            if not isinstance(page, list):
                raise MastodonError("tag timeline is not a JSON array")
            before = self._last_id
            numbered = []
            for status in page:
                try:
                    numbered.append((status_id(status), status))
                except MAPPING_ERRORS as exc:
                    await self._dead_letter(exc, json.dumps(status, ensure_ascii=False))
            # The page comes newest first; take it oldest first.
            for number, status in sorted(numbered, key=lambda pair: pair[0]):
                if self._last_id is None or number > self._last_id:
                    await self._take(number, status)
            if self._last_id == before:
                return  # nothing newer: caught up

    async def _take_streamed(self, data: str) -> None:
        try:
            status = await asyncio.to_thread(json.loads, data)
            number = status_id(status)
        except (json.JSONDecodeError, *MAPPING_ERRORS) as exc:
            await self._dead_letter(exc, data)
            return
        if self._last_id is not None and number <= self._last_id:
            return  # already taken by the backfill (or before a restart)
        await self._take(number, status)

    async def _take(self, number: int, status: Mapping[str, Any]) -> None:
        try:
            mention = await asyncio.to_thread(
                status_to_mention, status
            )  # HTML to text, off the loop
        except MAPPING_ERRORS as exc:
            await self._dead_letter(exc, json.dumps(status, ensure_ascii=False))
        else:
            result = await self._submit(mention)
            if result.outcome is Outcome.ACCEPTED:
                self._note_accepted(mention.created_at)
        # Only now, with intake's answer in hand, does the cursor move past the status.
        self._last_id = number
        await asyncio.to_thread(
            self.store.save,
            self._cursor_key,
            {
                "version": 1,
                "base_url": self.base_url,
                "hashtag": self.hashtag,
                "last_id": str(number),
            },
        )
