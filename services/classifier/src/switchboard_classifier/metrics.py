"""The classifier's Prometheus metrics and their label values, declared once.

`initialise` exports at zero every counter series the classifier knows it can
produce, so the first event of each is visible to `rate()` and alerts. Topics
come from the classifier in use, at start-up and after each reload, so a topic
a new rule set or model brings has its series before its first tag.
"""

from enum import StrEnum

from prometheus_client import Counter, Gauge, Histogram

from switchboard_classifier.combine import Classifier
from switchboard_classifier.rules import IRRELEVANT
from switchboard_shared.events import DeadLetterReason, Urgency
from switchboard_shared.metrics import LATENCY_BUCKETS, start_at_zero


class ReloadOutcome(StrEnum):
    """What became of changed rule set or model files (the `outcome` label of RELOADS)."""

    SWAPPED = "swapped"
    REFUSED = "refused"


# The dead-letter reasons the classifier itself produces.
DEAD_LETTER_REASONS = (
    DeadLetterReason.EMPTY,
    DeadLetterReason.NOT_JSON,
    DeadLetterReason.SCHEMA,
    DeadLetterReason.RULE_ERROR,
)

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
CLASSIFY_SECONDS = Histogram(
    "switchboard_classifier_classify_batch_seconds",
    "Time to classify one batch (rules, model, place), without the Kafka round trip.",
    buckets=LATENCY_BUCKETS,
)
MENTION_SECONDS = Histogram(
    "switchboard_classifier_classify_mention_seconds",
    "Classification time per mention (batch time divided by its size).",
    buckets=(0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05),
)
RULE_HITS = Counter(
    "switchboard_classifier_rule_hits_total",
    "Rules that fired (topic lexicons, cues, model raises), by rule.",
    ["rule"],
)
MODEL_INFO = Gauge("switchboard_classifier_model_info", "The model in use (value 1).", ["version"])
RELOADS = Counter(
    "switchboard_classifier_reloads_total",
    "Rule set or model reloads, by outcome (swapped or refused).",
    ["outcome"],
)
# The shadow (a candidate model classified beside the live one, never published).
SHADOW_MODEL_INFO = Gauge(
    "switchboard_classifier_shadow_model_info", "The model in shadow (value 1).", ["version"]
)
SHADOW_RELOADS = Counter(
    "switchboard_classifier_shadow_reloads_total",
    "Reloads of the shadow model, by outcome (refused: the last good shadow is kept).",
    ["outcome"],
)
SHADOW_CLASSIFIED = Counter(
    "switchboard_classifier_shadow_classified_total",
    "Mentions the shadow model classified, by the urgency it gave (not published).",
    ["urgency"],
)
SHADOW_DISAGREEMENTS = Counter(
    "switchboard_classifier_shadow_disagreements_total",
    "Mentions whose shadow urgency differs from the published one, by both urgencies.",
    ["live", "shadow"],
)
SHADOW_WOULD_BE_CRITICAL = Counter(
    "switchboard_classifier_shadow_would_be_critical_total",
    "Mentions the shadow would raise as critical and the live classifier did not.",
)
SHADOW_CRITICAL_DROPPED = Counter(
    "switchboard_classifier_shadow_critical_dropped_total",
    "Mentions published as critical that the shadow would not have raised as critical.",
)
SHADOW_ERRORS = Counter(
    "switchboard_classifier_shadow_errors_total",
    "Batches the shadow failed to classify (the live output went out regardless).",
)
SHADOW_SECONDS = Histogram(
    "switchboard_classifier_shadow_classify_batch_seconds",
    "Time the shadow took to classify one batch (on top of the live classification).",
    buckets=LATENCY_BUCKETS,
)


def initialise(classifier: Classifier) -> None:
    """Export at zero the classifier's known counter series, and the topics it can tag.

    Rule hits are left out: their names (cues, `topics.<name>`, idioms, the
    model) are built inside the rule engine, not listed anywhere.
    """
    start_at_zero(CLASSIFIED, urgency=Urgency)
    start_at_zero(DEADLETTERED, reason=DEAD_LETTER_REASONS)
    start_at_zero(RELOADS, outcome=ReloadOutcome)
    topics = dict.fromkeys(classifier.ruleset.topic_names)
    if classifier.model is not None:
        topics.update(dict.fromkeys(classifier.model.topic_labels))
    topics[IRRELEVANT] = None  # the tag of a mention with no other topic
    start_at_zero(TOPIC_TAGS, topic=topics)


def initialise_shadow() -> None:
    """Export at zero the shadow's counter series (only when a shadow is configured)."""
    start_at_zero(SHADOW_RELOADS, outcome=ReloadOutcome)
    start_at_zero(SHADOW_CLASSIFIED, urgency=Urgency)
    for live in Urgency:  # only the pairs that differ: agreeing ones are never counted
        for shadow in Urgency:
            if live is not shadow:
                SHADOW_DISAGREEMENTS.labels(live.value, shadow.value)
