"""Ingest's rate limits: per API key, per platform webhook, per client address for handshakes.

The buckets are `switchboard_shared.ratelimit`'s; this module decides what
each door is keyed by and answers a refusal with 429, `Retry-After` and a
count in `switchboard_ingest_rate_limited_total{door}`:

- HTTP intake by the API key's hash (never the key itself); a batch costs
  its items, so batching is no way around the limit. Open intake (development
  only) is keyed by client address.
- Platform webhooks by platform, charged only after the signature checked:
  an unsigned flood cannot use up the platform's own allowance.
- The X CRC and Meta handshakes by client address: they answer anyone, so
  their limit is low.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request

from switchboard_ingest import metrics
from switchboard_ingest.auth import ApiKey
from switchboard_ingest.doors import LimitedDoor
from switchboard_ingest.settings import IngestSettings
from switchboard_shared.problems import ProblemError
from switchboard_shared.ratelimit import Limit, RateLimiter
from switchboard_web.state import app_state


class Limits:
    """One limiter per kind of caller, built once from the settings."""

    def __init__(
        self, settings: IngestSettings, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.keys = RateLimiter(
            Limit(settings.ingest_key_rate_per_second, settings.ingest_key_burst), clock=clock
        )
        self.webhooks = RateLimiter(
            Limit(settings.ingest_webhook_rate_per_second, settings.ingest_webhook_burst),
            clock=clock,
        )
        self.handshakes = RateLimiter(
            Limit(settings.ingest_handshake_rate_per_second, settings.ingest_handshake_burst),
            clock=clock,
        )

    def charge_key(
        self, request: Request, key: ApiKey | None, *, door: LimitedDoor, cost: int = 1
    ) -> None:
        """Take `cost` mentions from the caller's key (or address, when intake is open); 429 if spent."""
        bucket = f"key:{key.digest}" if key is not None else f"open:{client_address(request)}"
        who = f"API key {key.name!r}" if key is not None else "this client address"
        _charge(self.keys, bucket, cost, door=door, who=who, unit="mentions")

    def charge_webhook(self, platform: str, *, door: LimitedDoor) -> None:
        """Take one signed delivery from `platform`'s webhook; 429 if spent."""
        _charge(
            self.webhooks, platform, 1, door=door, who=f"the {platform} webhook", unit="deliveries"
        )

    def charge_handshake(self, request: Request, *, door: LimitedDoor) -> None:
        """Take one handshake from the caller's address; 429 if spent."""
        _charge(
            self.handshakes,
            client_address(request),
            1,
            door=door,
            who="this client address",
            unit="handshakes",
        )


def client_address(request: Request) -> str:
    """The peer's address (behind a proxy: what uvicorn's proxy headers made of it)."""
    return request.client.host if request.client is not None else "unknown"


def _charge(
    limiter: RateLimiter, bucket: str, cost: int, *, door: LimitedDoor, who: str, unit: str
) -> None:
    decision = limiter.take(bucket, cost)
    if decision.allowed:
        return
    metrics.RATE_LIMITED.labels(door).inc()
    limit = limiter.limit
    raise ProblemError(
        429,
        "rate-limited",
        "Too many requests",
        f"{who} may send {limit.rate:g} {unit}/s (bursts of {limit.burst:g}); this request "
        f"asked for {cost}. Nothing was accepted; retry after {decision.retry_after} s",
        headers={"Retry-After": str(decision.retry_after)},
    )


LimitsDep = Annotated[Limits, Depends(app_state("limits", Limits))]
