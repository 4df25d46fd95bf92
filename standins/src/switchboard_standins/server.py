"""One HTTP server that answers as X API v2, Mastodon and Meta Graph do, for the parts
the responder uses, plus a control API to make it misbehave on demand.

Platform endpoints (each checks its bearer token and answers with the
platform's body and rate-limit headers):

- X: `POST /2/tweets` -> 201 `{"data": {"id", "text"}}`; `x-rate-limit-*` (reset in epoch seconds);
- Mastodon: `POST /api/v1/statuses` -> 200 status; `Idempotency-Key` dedupes (same key, same
  status, no new post); 422 over the character limit; `X-RateLimit-*` (reset in ISO 8601);
- Meta: `POST /v19.0/{comment-id}/comments` -> 200 `{"id"}`; errors as
  `{"error": {"code", "message"}}`; `X-Business-Use-Case-Usage`.

Control endpoints (`/_standin/...`): `POST faults` queues a fault (`kind`, optional
`platform`, `seconds`, `count`), `DELETE faults` clears them, `GET posts` lists every
post created and `GET requests` counts the platform requests seen (and Mastodon's deduplicated ones).

The notifier's channels are stood in for on the same port (`notify.py`).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import math
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from aiohttp import web

from switchboard_standins.faults import FaultQueue
from switchboard_standins.notify import NotifyStandin


class Platform(StrEnum):
    """The platforms this server stands in for."""

    X = "x"
    MASTODON = "mastodon"
    META = "meta"


class FaultKind(StrEnum):
    """What a queued fault does to the next matching platform request."""

    RATE_LIMIT = "429"  # rate limited; the window resets `seconds` from now
    SERVER_ERROR = "500"
    UNAUTHORIZED = "401"
    SLOW = "slow"  # answer normally after `seconds`
    HANG = "hang"  # create the post, then answer nothing for `seconds` (the client times out)
    DROP = "drop"  # create the post, then close the connection without an answer


@dataclass
class Window:
    """One account's rate-limit window."""

    limit: int
    seconds: float
    remaining: int = 0
    reset_at: float = 0.0

    def refresh(self, now: float) -> None:
        """Start a new window once the last one has reset."""
        if now >= self.reset_at:
            self.remaining = self.limit
            self.reset_at = math.ceil(now + self.seconds)

    def spend(self, now: float) -> bool:
        """Count one request; False when the window has none left."""
        self.refresh(now)
        if self.remaining <= 0:
            return False
        self.remaining -= 1
        return True

    def exhaust(self, now: float, seconds: float) -> None:
        """No request passes before `seconds` from now (whole seconds, as X's header says)."""
        self.remaining = 0
        self.reset_at = math.ceil(now + seconds)


@dataclass
class Post:
    """A post the server created."""

    platform: Platform
    id: str
    in_reply_to: str
    text: str
    idempotency_key: str | None = None
    created_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())


def _iso(epoch: float) -> str:
    return (
        datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    )


class Standin:
    """The platforms' state: tokens, windows, posts, idempotency keys and queued faults."""

    def __init__(
        self,
        *,
        tokens: dict[Platform, str] | None = None,
        mastodon_max_chars: int = 500,
        rate_limit: int = 100_000,
        window_seconds: float = 900.0,
        notify: NotifyStandin | None = None,
    ) -> None:
        self.tokens = tokens or {p: f"standin-{p.value}-token" for p in Platform}
        self.mastodon_max_chars = mastodon_max_chars
        self.windows = {p: Window(rate_limit, window_seconds) for p in Platform}
        self.posts: list[Post] = []
        self.requests: dict[Platform, int] = dict.fromkeys(Platform, 0)
        self.faults = FaultQueue(FaultKind, Platform, target_key="platform")
        self.deduplicated = 0  # Mastodon requests answered with the status of an earlier key
        self._by_key: dict[str, dict[str, Any]] = {}
        self._ids = itertools.count(1_800_000_000_000_000_001)
        self.app = web.Application()
        self.app.router.add_post("/2/tweets", self.x_tweet)
        self.app.router.add_post("/api/v1/statuses", self.mastodon_status)
        self.app.router.add_post("/v19.0/{comment_id}/comments", self.meta_comment)
        self.app.router.add_post("/_standin/faults", self.faults.add)
        self.app.router.add_get("/_standin/faults", self.faults.list)
        self.app.router.add_delete("/_standin/faults", self.faults.clear)
        self.app.router.add_get("/_standin/posts", self.list_posts)
        self.app.router.add_get("/_standin/requests", self.list_requests)
        # The notifier's channels (webhook, PagerDuty, SMS) answer on the same port.
        self.notify = notify or NotifyStandin()
        self.notify.mount(self.app)

    # --- control ---------------------------------------------------------------------------

    async def list_posts(self, _request: web.Request) -> web.Response:
        return web.json_response({"posts": [asdict(p) for p in self.posts]})

    async def list_requests(self, _request: web.Request) -> web.Response:
        counts = {p.value: n for p, n in self.requests.items()}
        return web.json_response({**counts, "mastodon_deduplicated": self.deduplicated})

    # --- shared ----------------------------------------------------------------------------

    def _limit_headers(self, platform: Platform) -> dict[str, str]:
        window = self.windows[platform]
        window.refresh(time.time())
        if platform is Platform.X:
            return {
                "x-rate-limit-limit": str(window.limit),
                "x-rate-limit-remaining": str(max(0, window.remaining)),
                "x-rate-limit-reset": str(int(window.reset_at)),
            }
        if platform is Platform.MASTODON:
            return {
                "X-RateLimit-Limit": str(window.limit),
                "X-RateLimit-Remaining": str(max(0, window.remaining)),
                "X-RateLimit-Reset": _iso(window.reset_at),
            }
        used = 100 - int(100 * max(0, window.remaining) / max(1, window.limit))
        regain = (
            0 if window.remaining > 0 else math.ceil(max(0.0, window.reset_at - time.time()) / 60)
        )
        usage = {
            "standin-page": [
                {
                    "type": "pages",
                    "call_count": used,
                    "total_cputime": used,
                    "total_time": used,
                    "estimated_time_to_regain_access": regain,
                }
            ]
        }
        return {"X-Business-Use-Case-Usage": json.dumps(usage)}

    def _error(
        self, platform: Platform, status: int, message: str, *, meta_code: int
    ) -> web.Response:
        if platform is Platform.X:
            body: dict[str, Any] = {
                "title": message,
                "detail": message,
                "type": "about:blank",
                "status": status,
            }
        elif platform is Platform.MASTODON:
            body = {"error": message}
        else:
            body = {"error": {"message": message, "type": "OAuthException", "code": meta_code}}
        return web.json_response(body, status=status, headers=self._limit_headers(platform))

    def _authorised(self, platform: Platform, request: web.Request, form: dict[str, Any]) -> bool:
        header = request.headers.get("Authorization", "")
        token = header.removeprefix("Bearer ").strip() if header.startswith("Bearer ") else ""
        if not token and platform is Platform.META:
            token = str(form.get("access_token") or request.query.get("access_token") or "")
        return token == self.tokens[platform]

    async def _answer(
        self, platform: Platform, request: web.Request, create: Any
    ) -> web.StreamResponse:
        """Faults, rate limit and auth in the platform's order, then `create()` (a post or an error)."""
        self.requests[platform] += 1
        form = await _body(request)
        fault = self.faults.take(platform)
        kind = fault.kind if fault is not None else None
        seconds = fault.seconds if fault is not None else 0.0
        if kind is FaultKind.SLOW:
            await asyncio.sleep(seconds)
        now = time.time()
        if kind is FaultKind.UNAUTHORIZED or not self._authorised(platform, request, form):
            return self._error(platform, 401, "Unauthorized: invalid access token", meta_code=190)
        window = self.windows[platform]
        if kind is FaultKind.RATE_LIMIT:
            window.exhaust(now, seconds)
        if not window.spend(now):
            status = 400 if platform is Platform.META else 429
            return self._error(platform, status, "Too Many Requests", meta_code=4)
        if kind is FaultKind.SERVER_ERROR:
            return self._error(platform, 500, "Internal Server Error", meta_code=2)
        response: web.StreamResponse = create(form)
        if kind is FaultKind.HANG:
            await asyncio.sleep(seconds or 300.0)
        if kind is FaultKind.DROP:
            if request.transport is not None:
                request.transport.abort()
            raise asyncio.CancelledError
        return response

    def _post(
        self, platform: Platform, in_reply_to: str, text: str, key: str | None = None
    ) -> Post:
        post = Post(platform, str(next(self._ids)), in_reply_to, text, key)
        self.posts.append(post)
        return post

    # --- the platforms ---------------------------------------------------------------------

    async def x_tweet(self, request: web.Request) -> web.StreamResponse:
        def create(body: dict[str, Any]) -> web.Response:
            text = body.get("text")
            reply = body.get("reply") if isinstance(body.get("reply"), dict) else {}
            in_reply_to = reply.get("in_reply_to_tweet_id") if reply else None
            if not isinstance(text, str) or not text or not isinstance(in_reply_to, str):
                return self._error(
                    Platform.X, 400, "Invalid Request: text and reply required", meta_code=100
                )
            post = self._post(Platform.X, in_reply_to, text)
            headers = self._limit_headers(Platform.X)
            return web.json_response(
                {"data": {"id": post.id, "text": text}}, status=201, headers=headers
            )

        return await self._answer(Platform.X, request, create)

    async def mastodon_status(self, request: web.Request) -> web.StreamResponse:
        key = request.headers.get("Idempotency-Key")

        def create(body: dict[str, Any]) -> web.Response:
            headers = self._limit_headers(Platform.MASTODON)
            if key and key in self._by_key:
                self.deduplicated += 1
                return web.json_response(self._by_key[key], headers=headers)
            text = body.get("status")
            if not isinstance(text, str) or not text:
                return self._error(
                    Platform.MASTODON, 422, "Validation failed: Text can't be blank", meta_code=100
                )
            if len(text) > self.mastodon_max_chars:
                message = (
                    f"Validation failed: Text character limit of {self.mastodon_max_chars} exceeded"
                )
                return self._error(Platform.MASTODON, 422, message, meta_code=100)
            in_reply_to = str(body.get("in_reply_to_id") or "")
            post = self._post(Platform.MASTODON, in_reply_to, text, key)
            status = {
                "id": post.id,
                "created_at": post.created_at,
                "in_reply_to_id": in_reply_to or None,
                "visibility": "public",
                "content": f"<p>{text}</p>",
                "uri": f"https://standin.example/users/switchboard/statuses/{post.id}",
                "url": f"https://standin.example/@switchboard/{post.id}",
            }
            if key:
                self._by_key[key] = status
            return web.json_response(status, headers=headers)

        return await self._answer(Platform.MASTODON, request, create)

    async def meta_comment(self, request: web.Request) -> web.StreamResponse:
        comment_id = request.match_info["comment_id"]

        def create(body: dict[str, Any]) -> web.Response:
            text = body.get("message")
            if not isinstance(text, str) or not text:
                return self._error(
                    Platform.META, 400, "(#100) The parameter message is required", meta_code=100
                )
            post = self._post(Platform.META, comment_id, text)
            page_post = comment_id.split("_", 1)[0]
            return web.json_response(
                {"id": f"{page_post}_{post.id}"}, headers=self._limit_headers(Platform.META)
            )

        return await self._answer(Platform.META, request, create)


async def _body(request: web.Request) -> dict[str, Any]:
    """A JSON or form body as a dict (empty when it is neither)."""
    if request.content_type == "application/json":
        try:
            body = await request.json()
        except ValueError:
            return {}
        return body if isinstance(body, dict) else {}
    return dict(await request.post())


class StandinServer:
    """A `Standin` served on host:port for as long as it is started."""

    def __init__(self, standin: Standin, host: str = "127.0.0.1", port: int = 0) -> None:
        self.standin = standin
        self.host = host
        self.port = port
        self._runner = web.AppRunner(standin.app, shutdown_timeout=1.0, handle_signals=False)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def start(self) -> None:
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        if self.port == 0:
            self.port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        await self._runner.cleanup()
