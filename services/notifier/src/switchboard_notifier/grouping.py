"""Grouping: which escalations are one page. Pure.

An escalation belongs to the group `incident:{incident_id}` when it carries an
incident, else `item:{item_id}`. A group is paged when it is first seen, and
again only when its urgency rises or its member count reaches the next member
step (1, 10, 50 by default): fifty posts of one incident are three pages, and
the other escalations are suppressed (counted and stored, never dropped
silently). Each page is a "wave" of the group; the wave's label is part of
every dedupe key, so a replayed escalation opens no second wave.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from switchboard_shared.events import MentionEscalated, Urgency


class SuppressReason(StrEnum):
    """Why an escalation paged nobody (the `reason` label and the stored row's reason)."""

    SAME_WAVE = "same_wave"  # neither the urgency rose nor the member count crossed a step
    NO_RULE = "no_rule"  # no rule of the policy takes it


def item_group(item_id: int) -> str:
    """The group of an item's escalations when it belongs to no incident."""
    return f"item:{item_id}"


def group_key(event: MentionEscalated) -> str:
    """The group an escalation belongs to."""
    if event.incident_id is not None:
        return f"incident:{event.incident_id}"
    return item_group(event.item_id)


def member_step(count: int, steps: tuple[int, ...]) -> int:
    """The highest member step `count` has reached (steps start at 1)."""
    return max((step for step in steps if step <= count), default=steps[0])


@dataclass(frozen=True)
class GroupState:
    """What a group was last paged at: its urgency and member step."""

    urgency: Urgency
    member_step: int


@dataclass(frozen=True)
class Wave:
    """A page of a group: opened at this urgency and member step."""

    urgency: Urgency
    member_step: int

    @property
    def label(self) -> str:
        """The wave's part of a dedupe key: the same escalation always gives the same label."""
        return f"{self.urgency.value}@{self.member_step}"


def decide(
    state: GroupState | None, event: MentionEscalated, steps: tuple[int, ...]
) -> Wave | SuppressReason:
    """A new wave to page, or why this escalation pages nobody."""
    step = member_step(event.member_count, steps)
    if state is None:
        return Wave(event.urgency, step)
    rose = event.urgency.rank < state.urgency.rank
    grew = step > state.member_step
    if not (rose or grew):
        return SuppressReason.SAME_WAVE
    # Keep the higher of each, so a late, smaller escalation cannot lower the group's state.
    urgency = event.urgency if rose else state.urgency
    return Wave(urgency, max(step, state.member_step))


def dedupe_key(group: str, wave: Wave, target: str, channel: str, step: str) -> str:
    """The key one message has: unique per (group, wave, target, channel, step)."""
    return f"{group}|{wave.label}|{target}|{channel}|{step}"


@dataclass(frozen=True)
class PendingSend:
    """A send that has not gone out yet (for the pure acknowledgement rule)."""

    dedupe_key: str
    group: str
    due_at: datetime


def cancelled_by_ack(pending: list[PendingSend], group: str) -> list[str]:
    """The dedupe keys an acknowledgement of `group` cancels: every pending send of the group,
    whatever its due time (a send already going out is not pending and is not cancelled)."""
    return [send.dedupe_key for send in pending if send.group == group]
