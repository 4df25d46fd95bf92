"""Which platform answers a source, and what each platform promises about a re-send.

Pure: no HTTP, no Kafka, no database. A channel is the one account the
responder posts with for one source; its platform decides the request shape
and whether a request whose answer was lost may be sent again.
"""

from __future__ import annotations

from enum import StrEnum

from switchboard_shared.events import Source


class Platform(StrEnum):
    """The platform APIs the responder can post replies to."""

    X = "x"
    MASTODON = "mastodon"
    META = "meta"

    @property
    def deduplicates(self) -> bool:
        """True when the platform drops a second request with the same Idempotency-Key.

        Only then may a request whose answer never came be sent again: on the
        others a re-send could post the reply twice.
        """
        return self is Platform.MASTODON


# The sources the responder can answer, and the platform that answers each one.
PLATFORM_OF_SOURCE: dict[Source, Platform] = {
    Source.X: Platform.X,
    Source.MASTODON: Platform.MASTODON,
    Source.FACEBOOK: Platform.META,
}


def platform_of(source: Source) -> Platform | None:
    """The platform a reply to `source` is posted on, or None when no platform can take one."""
    return PLATFORM_OF_SOURCE.get(source)
