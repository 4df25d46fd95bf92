"""A candidate model in shadow: classified beside the live one, compared, never published.

The stream classifies every batch with the live classifier and publishes
that; with a shadow configured it also classifies the same mentions with
the candidate (the same rules and places, another model) and only counts how
the two differ. What an operator wants to know before promoting is there:
where the urgencies disagree, and the criticals the candidate would raise or
drop. Pure: verdicts in, a tally out.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from switchboard_shared.events import Classification, Urgency


@dataclass(frozen=True)
class ShadowTally:
    """How the shadow's verdicts on one batch compare with the live ones."""

    shadow_urgency: Counter[Urgency] = field(default_factory=Counter)
    # (live urgency, shadow urgency) -> mentions, for the pairs that differ
    disagreements: Counter[tuple[Urgency, Urgency]] = field(default_factory=Counter)
    would_be_critical: int = 0  # the shadow says critical, the live model does not
    critical_dropped: int = 0  # the live model says critical, the shadow does not


def compare(live: Sequence[Classification], shadow: Sequence[Classification]) -> ShadowTally:
    """Tally the shadow's verdicts against the live ones, mention by mention."""
    shadow_urgency: Counter[Urgency] = Counter()
    disagreements: Counter[tuple[Urgency, Urgency]] = Counter()
    raised = dropped = 0
    for ours, theirs in zip(live, shadow, strict=True):
        shadow_urgency[theirs.urgency] += 1
        if ours.urgency is theirs.urgency:
            continue
        disagreements[(ours.urgency, theirs.urgency)] += 1
        raised += theirs.urgency is Urgency.CRITICAL
        dropped += ours.urgency is Urgency.CRITICAL
    return ShadowTally(shadow_urgency, disagreements, raised, dropped)
