"""One channel's token bucket, filled from the rate-limit headers the platform sends.

Pure: the caller passes the time. The platform is the authority on how many
requests are left: every answer's `RateLimit` replaces the bucket's count, and
each send in between takes one token, so sends in flight at once do not all
rush the last token. When none is left, or a 429 said when to come back, the
bucket says how long to wait; at the reset time the platform's window starts
again and the bucket lets requests through until the next answer says more.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

NO_WAIT = timedelta(0)


@dataclass(frozen=True)
class RateLimit:
    """What one answer said about the account's window: its size, what is left, when it resets."""

    limit: int | None
    remaining: int | None
    reset_at: datetime | None


class TokenBucket:
    """The sends one channel may still make before the platform's window resets."""

    def __init__(self) -> None:
        self.remaining: int | None = None  # None: unknown, so let requests through
        self.reset_at: datetime | None = None
        self.held_until: datetime | None = None

    def observe(self, rate_limit: RateLimit | None) -> None:
        """Take in what an answer's headers said about the window."""
        if rate_limit is None:
            return
        if rate_limit.remaining is not None:
            self.remaining = rate_limit.remaining
        if rate_limit.reset_at is not None:
            self.reset_at = rate_limit.reset_at

    def hold_until(self, moment: datetime) -> None:
        """Send nothing before `moment` (a 429 said so), whatever the count says."""
        if self.held_until is None or moment > self.held_until:
            self.held_until = moment

    def take(self, now: datetime) -> timedelta:
        """Take a token for one send now; return NO_WAIT, or how long to wait before asking again."""
        if self.held_until is not None:
            if now < self.held_until:
                return self.held_until - now
            self.held_until = None
            self.remaining = None  # the window the 429 spoke of is over
        if self.reset_at is not None and now >= self.reset_at:
            self.remaining = None
            self.reset_at = None
        if self.remaining is None:
            return NO_WAIT
        if self.remaining > 0:
            self.remaining -= 1
            return NO_WAIT
        if self.reset_at is None:
            # Nothing left and no reset time: the next answer will say; do not stall forever.
            self.remaining = None
            return NO_WAIT
        return self.reset_at - now
