"""The ingest service's Prometheus metrics and their label values, declared once.

`initialise` exports at zero every counter series ingest knows it can
produce, so the first event of each is visible to `rate()` and alerts.
"""

from collections.abc import Iterable
from enum import StrEnum

from prometheus_client import Counter, Gauge, Histogram

from switchboard_shared.events import DeadLetterReason, Source
from switchboard_shared.metrics import LATENCY_BUCKETS, start_at_zero

# The `source` label when no mention has been read: the request was refused
# before its body was parsed, or the body parsed to no platform.
UNKNOWN_SOURCE = "unknown"
# The `source` label of a Meta webhook before its (verified) payload says
# whether it is Facebook or Instagram.
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


# The dead-letter reasons ingest itself produces.
DEAD_LETTER_REASONS = (DeadLetterReason.NORMALISATION,)

ACCEPTED = Counter(
    "switchboard_ingest_accepted_total",
    "Mentions written to Kafka and acknowledged, by source and by the door they came through.",
    ["source", "via"],
)
DUPLICATES = Counter(
    "switchboard_ingest_duplicates_total",
    "Mentions answered as duplicates (already accepted within the window), by source and door.",
    ["source", "via"],
)
REJECTED = Counter(
    "switchboard_ingest_rejected_total",
    "Requests or items refused with a 4xx, by reason and source ('unknown' before parsing).",
    ["reason", "source"],
)
UNAVAILABLE = Counter(
    "switchboard_ingest_unavailable_total",
    "Mentions refused with 503 because Kafka could not take them, by cause.",
    ["cause"],
)
DEADLETTERED = Counter(
    "switchboard_ingest_deadlettered_total",
    "Records that could not be normalised, sent to the dead-letter topic, by source and reason.",
    ["source", "reason"],
)
RATE_LIMITED = Counter(
    "switchboard_ingest_rate_limited_total",
    "Requests refused with 429 because a rate limit was reached, by door "
    "(per API key, per platform webhook, per client address for handshakes).",
    ["door"],
)
REQUEST_SECONDS = Histogram(
    "switchboard_ingest_request_seconds",
    "Time to answer an intake request, by route and status.",
    ["route", "status"],
    buckets=LATENCY_BUCKETS,
)
KAFKA_ACK_SECONDS = Histogram(
    "switchboard_ingest_kafka_ack_seconds",
    "Time from handing a record to the producer to Kafka's acknowledgement.",
    buckets=LATENCY_BUCKETS,
)
KAFKA_CONNECTED = Gauge(
    "switchboard_ingest_kafka_producer_up", "1 when the Kafka producer is started, else 0."
)
IN_FLIGHT = Gauge(
    "switchboard_ingest_in_flight", "Records handed to the producer and not yet acknowledged."
)
DEDUP_REMEMBERED = Gauge(
    "switchboard_ingest_dedup_remembered", "Mention ids remembered for duplicate detection."
)
CONNECTOR_ERRORS = Counter(
    "switchboard_ingest_connector_errors_total",
    "Failures of a pull connector (fetch, parse, connection), by connector.",
    ["connector"],
)
CONNECTOR_REFUSED = Counter(
    "switchboard_ingest_connector_refused_total",
    "Fetches a pull connector refused or cut off (forbidden address, redirects, oversized body "
    "or line), by connector and reason.",
    ["connector", "reason"],
)
CONNECTOR_THROTTLED = Counter(
    "switchboard_ingest_connector_throttled_total",
    "Items a pull connector held back for its own rate limit before submitting, by connector.",
    ["connector"],
)
CONNECTOR_LAG_SECONDS = Gauge(
    "switchboard_ingest_connector_lag_seconds",
    "Age of the newest item a pull connector has accepted (how far behind its source it is).",
    ["connector"],
)
CONNECTOR_LAST_SUCCESS = Gauge(
    "switchboard_ingest_connector_last_success_timestamp_seconds",
    "When a pull connector last polled or received successfully (Unix time).",
    ["connector"],
)


def initialise(*, connectors: Iterable[str] = ()) -> None:
    """Export at zero the counter series ingest knows it can produce (and the connectors' own)."""
    for door in Door:
        start_at_zero(ACCEPTED, source=door.sources, via=[door])
        start_at_zero(DUPLICATES, source=door.sources, via=[door])
    start_at_zero(
        REJECTED,
        reason=[
            Rejection.UNAUTHORIZED,
            Rejection.UNSUPPORTED_MEDIA_TYPE,
            Rejection.TOO_LARGE,
            Rejection.INVALID,
        ],
        source=[UNKNOWN_SOURCE],
    )
    start_at_zero(REJECTED, reason=[Rejection.FORBIDDEN], source=Source)
    start_at_zero(REJECTED, reason=[Rejection.BAD_SIGNATURE], source=[Source.X, META])
    start_at_zero(REJECTED, reason=[Rejection.BAD_VERIFY_TOKEN], source=[META])
    start_at_zero(UNAVAILABLE, cause=Refusal)
    start_at_zero(RATE_LIMITED, door=LimitedDoor)
    start_at_zero(DEADLETTERED, source=[*Source, UNKNOWN_SOURCE], reason=DEAD_LETTER_REASONS)
    connectors = list(connectors)
    start_at_zero(CONNECTOR_ERRORS, connector=connectors)
    start_at_zero(CONNECTOR_THROTTLED, connector=connectors)
    start_at_zero(CONNECTOR_REFUSED, connector=connectors, reason=ConnectorRefusal)
