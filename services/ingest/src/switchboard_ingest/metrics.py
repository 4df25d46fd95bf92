"""The ingest service's Prometheus metrics, declared once."""

from prometheus_client import Counter, Gauge, Histogram

from switchboard_shared.metrics import LATENCY_BUCKETS

ACCEPTED = Counter(
    "switchboard_ingest_accepted_total",
    "Mentions written to Kafka and acknowledged (answered 202), by source.",
    ["source"],
)
REJECTED = Counter(
    "switchboard_ingest_rejected_total",
    "Requests refused with a 4xx, by reason.",
    ["reason"],
)
UNAVAILABLE = Counter(
    "switchboard_ingest_unavailable_total",
    "Mentions refused with 503 because Kafka did not acknowledge in time, by cause.",
    ["cause"],
)
REQUEST_SECONDS = Histogram(
    "switchboard_ingest_request_seconds",
    "Time to answer an intake request, by route and status.",
    ["route", "status"],
    buckets=LATENCY_BUCKETS,
)
KAFKA_ACK_SECONDS = Histogram(
    "switchboard_ingest_kafka_ack_seconds",
    "Time from handing a mention to the producer to Kafka's acknowledgement.",
    buckets=LATENCY_BUCKETS,
)
KAFKA_CONNECTED = Gauge(
    "switchboard_ingest_kafka_producer_up", "1 when the Kafka producer is started, else 0."
)
