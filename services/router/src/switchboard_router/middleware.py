"""Rate limits on the officer API: one token bucket per bearer token.

Every request that presents `Authorization: Bearer <token>` takes one token
from that bearer token's bucket (`switchboard_shared.ratelimit`), keyed by
the token's SHA-256 so the token itself is never kept. A spent bucket gets
429 with `Retry-After`, counted in `switchboard_router_rate_limited_total`.
It runs as ASGI middleware so every route is covered, including ones added
later, without each route having to remember it. Requests without a bearer
token are not limited here: they get 401 from the API (or are the public
health, metrics and console files).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from fastapi.responses import JSONResponse

from switchboard_router import metrics
from switchboard_router.people.security import hash_token
from switchboard_shared.problems import PROBLEM_CONTENT_TYPE, problem
from switchboard_shared.ratelimit import RateLimiter

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def bearer_token(scope: Scope) -> str | None:
    """The bearer token a request presents, if any."""
    for name, value in scope.get("headers") or []:
        if name == b"authorization":
            text = value.decode("latin-1")
            if text[:7].lower() == "bearer ":
                return text[7:].strip() or None
    return None


class TokenRateLimit:
    """Answers 429 to a bearer token that has spent its bucket."""

    def __init__(self, app: ASGIApp, limiter: RateLimiter) -> None:
        self.app = app
        self.limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        token = bearer_token(scope) if scope["type"] == "http" else None
        if token is not None:
            decision = self.limiter.take(hash_token(token))
            if not decision.allowed:
                metrics.RATE_LIMITED.inc()
                limit = self.limiter.limit
                body = JSONResponse(
                    problem(
                        429,
                        "rate-limited",
                        "Too many requests",
                        f"this token may make {limit.rate:g} requests/s (bursts of "
                        f"{limit.burst:g}); retry after {decision.retry_after} s",
                    ),
                    status_code=429,
                    media_type=PROBLEM_CONTENT_TYPE,
                    headers={"Retry-After": str(decision.retry_after)},
                )
                await body(scope, receive, send)
                return
        await self.app(scope, receive, send)
