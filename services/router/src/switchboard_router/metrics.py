"""The router's Prometheus metrics, declared once."""

from prometheus_client import Counter, Gauge, Histogram

from switchboard_shared.metrics import LATENCY_BUCKETS

CONSUMED = Counter("switchboard_router_consumed_total", "Classified mentions read from Kafka.")
QUEUED = Counter(
    "switchboard_router_queued_total",
    "New queue items stored, by queue and urgency.",
    ["queue", "urgency"],
)
DUPLICATES = Counter(
    "switchboard_router_duplicates_total",
    "Mentions read again (replay or redelivery) that were already queued.",
)
DEADLETTERED = Counter(
    "switchboard_router_deadlettered_total",
    "Records sent to the dead-letter topic, by reason.",
    ["reason"],
)
RETRIES = Counter(
    "switchboard_router_retries_total",
    "Batches retried after a database or Kafka failure, by what failed.",
    ["failed"],
)
BATCH_SECONDS = Histogram(
    "switchboard_router_batch_seconds",
    "Time to store one batch, publish its events and commit its offsets.",
    buckets=LATENCY_BUCKETS,
)
END_TO_END_SECONDS = Histogram(
    "switchboard_router_received_to_queued_seconds",
    "Delay from ingest accepting a mention to its queue item being committed.",
    buckets=LATENCY_BUCKETS,
)
QUEUE_DEPTH = Gauge(
    "switchboard_router_queue_depth", "Open items per queue (read at scrape time).", ["queue"]
)
QUEUE_OLDEST_SECONDS = Gauge(
    "switchboard_router_queue_oldest_item_age_seconds",
    "Age of the oldest open item per queue (read at scrape time).",
    ["queue"],
)
