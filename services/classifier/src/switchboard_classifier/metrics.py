"""The classifier's Prometheus metrics, declared once."""

from prometheus_client import Counter, Gauge, Histogram

from switchboard_shared.metrics import LATENCY_BUCKETS

CONSUMED = Counter("switchboard_classifier_consumed_total", "Raw mentions read from Kafka.")
CLASSIFIED = Counter(
    "switchboard_classifier_classified_total",
    "Mentions classified and written to the classified topic, by urgency.",
    ["urgency"],
)
TOPIC_TAGS = Counter(
    "switchboard_classifier_topic_tags_total", "Topic labels attached, by topic.", ["topic"]
)
DEADLETTERED = Counter(
    "switchboard_classifier_deadlettered_total",
    "Records sent to the dead-letter topic, by reason.",
    ["reason"],
)
PRODUCE_RETRIES = Counter(
    "switchboard_classifier_produce_retries_total",
    "Batches whose write to Kafka failed and was retried (the stream waits meanwhile).",
)
BATCH_SECONDS = Histogram(
    "switchboard_classifier_batch_seconds",
    "Time to classify one batch and have Kafka acknowledge its output.",
    buckets=LATENCY_BUCKETS,
)
LAG_SECONDS = Histogram(
    "switchboard_classifier_received_to_classified_seconds",
    "Delay from ingest accepting a mention to the classifier writing it out.",
    buckets=LATENCY_BUCKETS,
)
RULESET_INFO = Gauge(
    "switchboard_classifier_ruleset_info", "The rule set in use (value 1).", ["version"]
)
