"""SLA ladders as plain data, and which tier is due: pure, no clock of its own.

An SLA applies to items of some queues (glob patterns) and urgencies: an item
must be claimed within `claim_seconds` of entering the pool, and acknowledged
within `ack_seconds` of being claimed. Missing a deadline is a *breach*; from
the breach on, each tier of the ladder fires once, `after_seconds` after the
breach, in order. The tier an item has reached is stored with the item, so a
restarted router (or a second replica) carries on where the ladder was: this
module only answers "which tiers are due now", given that stored state.

A second breach of the same item (claimed late, then acknowledged late)
continues the ladder where it stopped rather than starting it again: an item
that keeps missing deadlines keeps climbing.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from switchboard_router.routing.parsing import named_entry, refuse_unknown
from switchboard_shared.events import Urgency

SUPERVISOR = "supervisor"
_TIER_KEYS = {"after_seconds", "raise_priority", "move_to", "escalate", "notify"}
_SLA_KEYS = {"name", "queues", "urgency", "claim_seconds", "ack_seconds", "ladder"}


class SlaError(ValueError):
    """An SLA entry that cannot be used; the message names the entry and field."""


@dataclass(frozen=True)
class Tier:
    """One rung: what happens `after_seconds` after the breach."""

    after_seconds: float
    raise_priority: int = 0
    move_to: str | None = None  # a queue id, or SUPERVISOR for the queue's supervisor queue
    escalate: bool = False
    notify: str | None = None

    @property
    def actions(self) -> tuple[str, ...]:
        """The tier's actions by name, for audit records and events."""
        out = []
        if self.raise_priority:
            out.append("raise_priority")
        if self.move_to:
            out.append(f"move_to:{self.move_to}")
        if self.escalate:
            out.append("escalate")
        return tuple(out)


@dataclass(frozen=True)
class Sla:
    """Deadlines and the escalation ladder for some queues and urgencies."""

    name: str
    queues: tuple[str, ...]
    urgency: frozenset[Urgency] | None
    claim_seconds: float | None
    ack_seconds: float | None
    ladder: tuple[Tier, ...]

    def applies(self, queue_id: str, urgency: Urgency) -> bool:
        """True when this SLA covers items of `queue_id` with `urgency`."""
        if self.urgency is not None and urgency not in self.urgency:
            return False
        return any(fnmatch.fnmatchcase(queue_id, pattern) for pattern in self.queues)

    def claim_due(self, since: datetime) -> datetime | None:
        """When an item in the pool since `since` must be claimed."""
        return None if self.claim_seconds is None else since + timedelta(seconds=self.claim_seconds)

    def ack_due(self, claimed_at: datetime) -> datetime | None:
        """When an item claimed at `claimed_at` must be acknowledged."""
        return (
            None if self.ack_seconds is None else claimed_at + timedelta(seconds=self.ack_seconds)
        )


def find_sla(slas: tuple[Sla, ...], queue_id: str, urgency: Urgency) -> Sla | None:
    """The first SLA covering (queue, urgency), or None."""
    for sla in slas:
        if sla.applies(queue_id, urgency):
            return sla
    return None


def due_tiers(
    sla: Sla, *, breached_at: datetime, tiers_done: int, now: datetime
) -> list[tuple[int, Tier]]:
    """The tiers (1-based number, tier) that are due and have not fired yet, in order."""
    elapsed = (now - breached_at).total_seconds()
    return [
        (number, tier)
        for number, tier in enumerate(sla.ladder, start=1)
        if number > tiers_done and elapsed >= tier.after_seconds
    ]


def _seconds(where: str, value: Any, *, allow_zero: bool) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise SlaError(f"{where}: a number of seconds is required")
    if value < 0 or (value == 0 and not allow_zero):
        raise SlaError(f"{where}: must be {'>= 0' if allow_zero else '> 0'}")
    return float(value)


def parse_slas(raw: Any, *, queue_ids_ok: Any) -> tuple[Sla, ...]:
    """Validate the `sla` section of a policy; `queue_ids_ok(str) -> bool` checks queue ids."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise SlaError("sla: a list is required")
    out = []
    seen: set[str] = set()
    for index, entry in enumerate(raw):
        name = named_entry(f"sla[{index}]", entry, SlaError)
        where = f"sla {name!r}"
        if name in seen:
            raise SlaError(f"{where}.name: duplicate SLA name")
        seen.add(name)
        refuse_unknown(where, entry, _SLA_KEYS, SlaError)
        queues = entry.get("queues", ["*"])
        if (
            not isinstance(queues, list)
            or not queues
            or not all(isinstance(q, str) for q in queues)
        ):
            raise SlaError(f"{where}.queues: a non-empty list of queue ids or globs is required")
        urgency = None
        if "urgency" in entry:
            values = entry["urgency"]
            if not isinstance(values, list) or not all(isinstance(u, str) for u in values):
                raise SlaError(f"{where}.urgency: a list of urgencies is required")
            try:
                urgency = frozenset(Urgency(u) for u in values)
            except ValueError as exc:
                raise SlaError(f"{where}.urgency: {exc}") from exc
        claim = entry.get("claim_seconds")
        ack = entry.get("ack_seconds")
        claim_s = (
            None if claim is None else _seconds(f"{where}.claim_seconds", claim, allow_zero=False)
        )
        ack_s = None if ack is None else _seconds(f"{where}.ack_seconds", ack, allow_zero=False)
        if claim_s is None and ack_s is None:
            raise SlaError(f"{where}: claim_seconds or ack_seconds is required")
        ladder_raw = entry.get("ladder", [])
        if not isinstance(ladder_raw, list):
            raise SlaError(f"{where}.ladder: a list of tiers is required")
        ladder = []
        previous = -1.0
        for number, tier_raw in enumerate(ladder_raw, start=1):
            tier_where = f"{where}.ladder[{number - 1}]"
            if not isinstance(tier_raw, dict):
                raise SlaError(f"{tier_where}: a mapping is required")
            refuse_unknown(tier_where, tier_raw, _TIER_KEYS, SlaError)
            after = _seconds(
                f"{tier_where}.after_seconds", tier_raw.get("after_seconds", 0), allow_zero=True
            )
            if after < previous:
                raise SlaError(f"{tier_where}.after_seconds: tiers must be in time order")
            previous = after
            boost = tier_raw.get("raise_priority", 0)
            if isinstance(boost, bool) or not isinstance(boost, int) or not 0 <= boost <= 3:
                raise SlaError(f"{tier_where}.raise_priority: an integer 0..3 is required")
            move_to = tier_raw.get("move_to")
            if move_to is not None and (
                not isinstance(move_to, str)
                or (move_to != SUPERVISOR and not queue_ids_ok(move_to))
            ):
                raise SlaError(f"{tier_where}.move_to: a queue id or 'supervisor' is required")
            escalate = tier_raw.get("escalate", False)
            if not isinstance(escalate, bool):
                raise SlaError(f"{tier_where}.escalate: true or false is required")
            notify = tier_raw.get("notify")
            if notify is not None and not isinstance(notify, str):
                raise SlaError(f"{tier_where}.notify: a string is required")
            tier = Tier(
                after_seconds=after,
                raise_priority=boost,
                move_to=move_to,
                escalate=escalate or notify is not None,
                notify=notify,
            )
            if not tier.actions:
                raise SlaError(f"{tier_where}: the tier does nothing")
            ladder.append(tier)
        out.append(
            Sla(
                name=name,
                queues=tuple(queues),
                urgency=urgency,
                claim_seconds=claim_s,
                ack_seconds=ack_s,
                ladder=tuple(ladder),
            )
        )
    return tuple(out)
