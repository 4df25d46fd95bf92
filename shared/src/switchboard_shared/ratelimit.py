"""Token-bucket rate limits per caller, pure: the clock is passed in, memory is bounded.

One `RateLimiter` holds a bucket per key (an API key's hash, a bearer token's
hash, a client address, a platform): each bucket holds up to `burst` tokens
and refills at `rate` tokens a second; a request costing `cost` tokens passes
when the bucket has them. The services decide what a key is and what a
request costs, and answer a refusal with 429 and `Retry-After`.

Memory is bounded by `max_keys`: when full, the least recently used bucket is
dropped. A dropped bucket comes back full, which is what an idle bucket would
have refilled to anyway; only a caller who can present more distinct keys
than `max_keys` between two of its own requests gains from it, and such a
caller must also hold that many valid keys (or addresses) to be limited apart.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

_TOLERANCE = 1e-9  # tokens


@dataclass(frozen=True)
class Limit:
    """A sustained rate (tokens per second) and the burst a full bucket allows."""

    rate: float
    burst: float

    def __post_init__(self) -> None:
        if not self.rate > 0:
            raise ValueError(f"rate must be positive, not {self.rate}")
        if not self.burst >= 1:
            raise ValueError(f"burst must be at least 1, not {self.burst}")


@dataclass(frozen=True)
class Decision:
    """Whether a request passes, and if not how long until it would."""

    allowed: bool
    wait_seconds: float = 0.0

    @property
    def retry_after(self) -> int:
        """`wait_seconds` as a Retry-After header value: whole seconds, at least 1."""
        return max(1, math.ceil(self.wait_seconds))


class RateLimiter:
    """Token buckets by key under one default limit (a key may bring its own)."""

    def __init__(
        self,
        limit: Limit,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 100_000,
    ) -> None:
        if max_keys < 1:
            raise ValueError("max_keys must be at least 1")
        self.limit = limit
        self.max_keys = max_keys
        self._clock = clock
        # key -> (tokens left, when they were counted)
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._buckets)

    def take(self, key: str, cost: float = 1, *, limit: Limit | None = None) -> Decision:
        """Take `cost` tokens from `key`'s bucket if it has them; else say how long to wait.

        A refused request takes nothing, so a caller retrying after
        `wait_seconds` passes. A cost above the burst can never pass and is
        refused with the wait a full bucket would need (the caller must split it).
        """
        limit = limit or self.limit
        now = self._clock()
        tokens, counted = self._buckets.pop(key, (limit.burst, now))
        tokens = min(limit.burst, tokens + max(0.0, now - counted) * limit.rate)
        # A caller that waited exactly `wait_seconds` must pass: without the
        # tolerance, rounding leaves it a hair short and it spins on tiny waits.
        if tokens >= cost - _TOLERANCE:
            self._remember(key, max(0.0, tokens - cost), now)
            return Decision(allowed=True)
        self._remember(key, tokens, now)
        return Decision(allowed=False, wait_seconds=(cost - tokens) / limit.rate)

    def _remember(self, key: str, tokens: float, now: float) -> None:
        self._buckets[key] = (tokens, now)
        while len(self._buckets) > self.max_keys:
            self._buckets.popitem(last=False)
