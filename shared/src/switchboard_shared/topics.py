"""Every topic Switchboard uses, named once with its partitions and key.

No service spells a topic name: they take a `TopicSpec` from here and ask it
for its name under the deployment's prefix (tests use a fresh prefix each).
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel

from switchboard_shared import events


@dataclass(frozen=True)
class TopicSpec:
    """One topic: base name, partitions, what its key is and what its values are."""

    base_name: str
    partitions: int
    key: str
    value: type[BaseModel]
    retention_ms: int = 7 * 24 * 3600 * 1000

    def name(self, prefix: str = "") -> str:
        """The topic's full name under a deployment prefix."""
        return f"{prefix}{self.base_name}"


# Six partitions: enough for six replicas of a stage per consumer group, cheap
# on one broker. Every topic is keyed by mention id, so all events of one
# mention stay in order on one partition.
RAW = TopicSpec("mentions.raw.v1", 6, "mention_id", events.MentionReceived)
CLASSIFIED = TopicSpec("mentions.classified.v1", 6, "mention_id", events.MentionClassified)
ROUTED = TopicSpec("mentions.routed.v1", 6, "mention_id", events.MentionRouted)
ESCALATED = TopicSpec("mentions.escalated.v1", 6, "mention_id", events.MentionEscalated)
FEEDBACK = TopicSpec(
    "mentions.feedback.v1",
    6,
    "mention_id",
    events.MentionFeedback,
    retention_ms=90 * 24 * 3600 * 1000,
)
# Answers to citizens: the router's outbox asks, the responder answers.
REPLIES = TopicSpec("replies.v1", 6, "mention_id", events.ReplyRequested)
REPLY_OUTCOMES = TopicSpec("replies.outcomes.v1", 6, "mention_id", events.ReplyOutcome)
DEADLETTER = TopicSpec(
    "mentions.deadletter.v1", 6, "mention_id", events.DeadLetter, retention_ms=30 * 24 * 3600 * 1000
)

ALL: tuple[TopicSpec, ...] = (
    RAW,
    CLASSIFIED,
    ROUTED,
    ESCALATED,
    FEEDBACK,
    REPLIES,
    REPLY_OUTCOMES,
    DEADLETTER,
)
