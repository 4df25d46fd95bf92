"""The ingest service's Prometheus metrics, declared once."""

from prometheus_client import Counter, Gauge, Histogram

from switchboard_shared.metrics import LATENCY_BUCKETS

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
