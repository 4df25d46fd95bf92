"""The ingest service's Prometheus metrics, declared once.

`initialise` exports at zero every counter series ingest knows it can
produce, so the first event of each is visible to `rate()` and alerts. The
label values are the doors' own words (`doors`).
"""

from collections.abc import Iterable

from prometheus_client import Counter, Gauge, Histogram

from switchboard_ingest.doors import (
    META,
    UNKNOWN_SOURCE,
    ConnectorRefusal,
    Door,
    LimitedDoor,
    Refusal,
    Rejection,
)
from switchboard_shared.events import DeadLetterReason, Source
from switchboard_shared.metrics import LATENCY_BUCKETS, start_at_zero

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
