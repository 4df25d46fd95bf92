"""The doors a mention comes in by, and the words for why a door turns something away.

Pure vocabulary, shared by the doors (`api`, `webhooks`, the connectors), by
intake and by `metrics`, which exports a series for each value at start-up.
It imports no other ingest module, so every one of them (and the pure
`platforms` mapping) can use it without depending on the metrics.
"""

from enum import StrEnum

from switchboard_shared.events import Source

# The `source` when no mention has been read: the request was refused before
# its body was parsed, or the body parsed to no platform.
UNKNOWN_SOURCE = "unknown"
# The `source` of a Meta webhook before its (verified) payload says whether
# it is Facebook or Instagram.
META = "meta"


class Door(StrEnum):
    """The door a mention came through (the `via` label)."""

    API = "api"
    API_BATCH = "api_batch"
    WEBHOOK_X = "webhook_x"
    WEBHOOK_META = "webhook_meta"
    RSS = "rss"
    MASTODON = "mastodon"

    @property
    def sources(self) -> tuple[Source, ...]:
        """The sources a mention coming through this door can have."""
        match self:
            case Door.WEBHOOK_X:
                return (Source.X,)
            case Door.WEBHOOK_META:
                return (Source.FACEBOOK, Source.INSTAGRAM)
            case Door.RSS:
                return (Source.RSS,)
            case Door.MASTODON:
                return (Source.MASTODON,)
        return tuple(Source)


class Rejection(StrEnum):
    """Why a request or item was refused with a 4xx (the `reason` label of REJECTED)."""

    UNAUTHORIZED = "unauthorized"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    TOO_LARGE = "too_large"
    INVALID = "invalid"
    FORBIDDEN = "forbidden"
    BAD_SIGNATURE = "bad_signature"
    BAD_VERIFY_TOKEN = "bad_verify_token"


class Refusal(StrEnum):
    """Why intake answered 503 (the `cause` label); a Kafka client error is named by its class."""

    DEDUP_WARMING_UP = "dedup_warming_up"
    PREVIOUS_WRITE_UNRESOLVED = "previous_write_unresolved"
    PRODUCER_NOT_STARTED = "producer_not_started"
    TOO_MANY_IN_FLIGHT = "too_many_in_flight"
    METADATA_TIMEOUT = "metadata_timeout"
    ACK_TIMEOUT = "ack_timeout"
    CANCELLED = "cancelled"


class ConnectorRefusal(StrEnum):
    """Why a pull connector refused or cut off a fetch (the `reason` label of CONNECTOR_REFUSED)."""

    FORBIDDEN_ADDRESS = "forbidden_address"  # loopback, private, link-local, ... (SSRF guard)
    TOO_MANY_REDIRECTS = "too_many_redirects"
    BAD_REDIRECT = "bad_redirect"  # to a scheme other than http(s)
    BODY_TOO_LARGE = "body_too_large"
    LINE_TOO_LONG = "line_too_long"  # a Mastodon stream line or event beyond the cap


class LimitedDoor(StrEnum):
    """Where a rate limit answered 429 (the `door` label of RATE_LIMITED)."""

    API = "api"
    API_BATCH = "api_batch"
    WEBHOOK_X = "webhook_x"
    WEBHOOK_META = "webhook_meta"
    X_CRC = "x_crc"
    META_HANDSHAKE = "meta_handshake"
