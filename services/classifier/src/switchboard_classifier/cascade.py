"""The cascade: the n-gram model decides the obvious majority, sentence meaning the doubtful few.

The n-gram stage costs tens of microseconds a mention, the sentence encoder
milliseconds; so the encoder sees only the mentions `MeaningBudget` picks, a
capped share of the stream, ranked by how unsure the n-gram stage is, with
potential emergencies and Spanish first (the misses that matter, and the
language the n-grams have least data for). For those the meaning head's
probabilities are averaged with the n-gram model's: an ensemble, which on the
gold set did as well as one model over both feature sets and keeps the two
heads independent (docs/classifier-meaning.md).
Pure: no Kafka, no faust.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from switchboard_classifier import meaning
from switchboard_classifier.meaning import MeaningBudget
from switchboard_classifier.model import MeaningHead, Predictions

# Ranking bonus of a Spanish mention and weight of the n-gram stage's p(critical)+p(high):
# doubtful potential emergencies and Spanish go to the encoder before doubtful chatter.
SPANISH_PRIORITY = 0.25
EMERGENCY_PRIORITY = 0.5
# Below this doubt (scaled entropy; 0.3 is about a 0.9 top probability) the n-gram
# stage is left alone even when the budget has room: it is sure enough.
MIN_UNCERTAINTY = 0.3
# Weight of the meaning head in the average (0.5: an even ensemble).
MEANING_WEIGHT = 0.5


@dataclass
class Cascade:
    """The meaning stage of one classifier: its head, its budget, the shared encoder."""

    head: MeaningHead
    budget: MeaningBudget
    encoder: meaning.Encoder = field(default_factory=meaning.shared_encoder)

    @classmethod
    def for_share(cls, head: MeaningHead | None, share: float) -> Cascade | None:
        """A cascade spending `share` of the stream on `head`, or None when there is nothing to spend."""
        if head is None or share <= 0:
            return None
        return cls(head=head, budget=MeaningBudget(share, min_uncertainty=MIN_UNCERTAINTY))

    def refine(
        self, texts: Sequence[str], languages: Sequence[str], cheap: Predictions
    ) -> tuple[Predictions, tuple[int, ...]]:
        """The batch's predictions with the chosen rows averaged with the meaning head's.

        Returns the new predictions and the rows that were refined (ascending).
        """
        urgency = cheap.urgency
        priority = EMERGENCY_PRIORITY * (urgency[:, 0] + urgency[:, 1])
        priority += SPANISH_PRIORITY * np.fromiter(
            (lang == "es" for lang in languages), dtype=np.float64, count=len(languages)
        )
        rows = self.budget.select(urgency, priority)
        if not len(rows):
            return cheap, ()
        second = self.head.predict(self.encoder.encode([texts[i] for i in rows]).astype(np.float64))
        blended_urgency = urgency.copy()
        blended_topics = cheap.topics.copy()
        blended_urgency[rows] = (1 - MEANING_WEIGHT) * urgency[
            rows
        ] + MEANING_WEIGHT * second.urgency
        blended_topics[rows] = (1 - MEANING_WEIGHT) * cheap.topics[
            rows
        ] + MEANING_WEIGHT * second.topics
        return Predictions(blended_urgency, blended_topics), tuple(rows.tolist())
