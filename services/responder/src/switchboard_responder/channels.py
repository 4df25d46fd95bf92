"""A channel at run time: its sender, its token bucket and whether its credentials work.

Sends on one channel wait their turn here, and only here: for the token
bucket (fed by every answer's rate-limit headers, held by a 429 until its
reset), and while the channel's credentials are refused. Other channels
have their own and keep going.

While a channel is in auth_error, its replies wait (they are not failed)
and one send every `auth_retry_seconds` goes out as the probe: when it is
answered with anything but 401/403, the channel is healthy again and the
others follow.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from switchboard_responder import metrics
from switchboard_responder.answers import Decision, Verdict
from switchboard_responder.bucket import NO_WAIT, TokenBucket
from switchboard_responder.platforms import Platform, platform_of
from switchboard_responder.senders import Sender
from switchboard_responder.settings import ChannelSettings, ResponderSettings
from switchboard_shared.events import Source, utc_now
from switchboard_shared.logs import fields

log = logging.getLogger(__name__)

# The longest a waiting send sleeps before it looks at the channel again.
LONGEST_NAP_SECONDS = 5.0


class Channel:
    """One account on one platform, shared by every send that answers its source."""

    def __init__(
        self,
        name: str,
        platform: Platform,
        config: ChannelSettings,
        sender: Sender,
        *,
        auth_retry_seconds: float,
    ) -> None:
        self.name = name
        self.platform = platform
        self.max_chars = config.max_chars
        self.sender = sender
        self.bucket = TokenBucket()
        self.auth_retry_seconds = auth_retry_seconds
        self.auth_error = False
        self._probing = False
        self._next_probe = 0.0
        self._changed = asyncio.Event()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def _nap(self, seconds: float) -> None:
        changed = self._changed
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(changed.wait(), max(0.0, min(seconds, LONGEST_NAP_SECONDS)))

    async def turn(self) -> bool:
        """Wait until this channel may send; True when this send is the credentials' probe."""
        loop = asyncio.get_running_loop()
        while True:
            if self.auth_error:
                if not self._probing and loop.time() >= self._next_probe:
                    self._probing = True
                    return True
                await self._nap(max(0.1, self._next_probe - loop.time()))
                continue
            wait = self.bucket.take(utc_now())
            if wait > NO_WAIT:
                metrics.CHANNEL_HELD.labels(self.name).set(1)
                await self._nap(wait.total_seconds())
                continue
            metrics.CHANNEL_HELD.labels(self.name).set(0)
            return False

    def answered(self, decision: Decision, *, probe: bool) -> None:
        """Take in what one answer says about the channel: its window, its credentials."""
        self.bucket.observe(decision.rate_limit)
        if decision.verdict is Verdict.RATE_LIMITED and decision.retry_at is not None:
            self.bucket.hold_until(decision.retry_at)
        if decision.verdict is Verdict.AUTH_ERROR:
            if not self.auth_error:
                log.error(
                    "channel credentials refused; its replies wait",
                    extra=fields(
                        channel=self.name,
                        http_status=decision.http_status,
                        error=decision.error,
                        probe_every_seconds=self.auth_retry_seconds,
                    ),
                )
            self.auth_error = True
            metrics.CHANNEL_AUTH_ERROR.labels(self.name).set(1)
            self._next_probe = asyncio.get_running_loop().time() + self.auth_retry_seconds
        elif self.auth_error and decision.http_status is not None:
            self.auth_error = False
            metrics.CHANNEL_AUTH_ERROR.labels(self.name).set(0)
            log.info("channel credentials accepted again", extra=fields(channel=self.name))
        if probe:
            self._probing = False
        self._notify()

    def released(self, *, probe: bool) -> None:
        """A probe's send ended without an answer that speaks for the credentials."""
        if probe:
            self._probing = False
            self._notify()


def build_channels(settings: ResponderSettings) -> dict[Source, Channel]:
    """A channel for every configured source (settings checked each one has a platform)."""
    channels: dict[Source, Channel] = {}
    for source, config in settings.responder_channels.items():
        platform = platform_of(source)
        assert platform is not None  # ResponderSettings refuses such a channel
        sender = Sender(
            platform,
            config,
            request_timeout_seconds=settings.responder_request_timeout_seconds,
            connect_timeout_seconds=settings.responder_connect_timeout_seconds,
        )
        channels[source] = Channel(
            source.value,
            platform,
            config,
            sender,
            auth_retry_seconds=settings.responder_auth_retry_seconds,
        )
    return channels
