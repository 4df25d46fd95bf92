"""The notification policy: who can be reached how (`targets`), how each channel is
reached (`channels`), and which escalations page whom, when (`rules`).

Pure: parsing, the cross-checks that refuse a policy naming an unknown channel
or target, and the expansion of a matching rule into the steps to send. The
shipped `notification.yaml` is the default; a file given in the settings
replaces it and is reloaded when its bytes change (the last good one stays
while a new one is refused).
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from switchboard_shared.config_files import parse_yaml, text_or_shipped
from switchboard_shared.events import MentionEscalated, Urgency

SHIPPED = "notification.yaml"


class ChannelKind(StrEnum):
    """The ways the notifier can reach a person."""

    WEBHOOK = "webhook"
    EMAIL = "email"
    PAGERDUTY = "pagerduty"
    SMS = "sms"

    @property
    def deduplicates(self) -> bool:
        """True when the receiver drops a repeat of one key (Idempotency-Key, dedup_key), so a
        send cut off mid-request may be made again; email and SMS would arrive twice."""
        return self in (ChannelKind.WEBHOOK, ChannelKind.PAGERDUTY)


class PolicyError(ValueError):
    """A policy that cannot be used; the message names the field and the reason."""


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class WebhookChannel(_Strict):
    """Signed JSON POSTs (the signing secret is a setting, never in this file)."""


class EmailChannel(_Strict):
    """An SMTP relay."""

    host: str
    port: Annotated[int, Field(ge=1, le=65535)] = 25
    sender: str = Field(alias="from")


class PagerDutyChannel(_Strict):
    """PagerDuty Events API v2."""

    url: str = "https://events.pagerduty.com/v2/enqueue"


class SmsChannel(_Strict):
    """An SMS gateway's JSON API (its bearer token is a setting)."""

    url: str


class Channels(_Strict):
    """The channels this deployment has; a rule may only use these."""

    webhook: WebhookChannel | None = None
    email: EmailChannel | None = None
    pagerduty: PagerDutyChannel | None = None
    sms: SmsChannel | None = None

    def configured(self) -> set[ChannelKind]:
        """The channel kinds this policy configures."""
        return {kind for kind in ChannelKind if getattr(self, kind.value) is not None}


class Target(_Strict):
    """One person or rota and their address on each channel."""

    webhook: str | None = None
    email: str | None = None
    pagerduty: str | None = None  # the service's routing key
    sms: str | None = None  # E.164 phone number

    def address(self, channel: ChannelKind) -> str | None:
        """Where this target is reached on `channel` (None: not on it)."""
        value: str | None = getattr(self, channel.value)
        return value


class Match(_Strict):
    """Which escalations a rule takes; every field given must match."""

    notify: str | None = None
    queue: str | None = None  # a glob: "patrol-*"
    urgency: tuple[Urgency, ...] | None = None
    tier: tuple[int, ...] | None = None

    def takes(self, event: MentionEscalated) -> bool:
        """True when `event` matches every field given."""
        if self.notify is not None and event.notify != self.notify:
            return False
        if self.queue is not None and not fnmatch.fnmatchcase(event.queue_id, self.queue):
            return False
        if self.urgency is not None and event.urgency not in self.urgency:
            return False
        return self.tier is None or event.tier in self.tier


class StepSpec(_Strict):
    """Send to `targets` on `channels`, `after_seconds` from the escalation."""

    after_seconds: Annotated[float, Field(ge=0)] = 0
    targets: tuple[str, ...] = Field(min_length=1)
    channels: tuple[ChannelKind, ...] = Field(min_length=1)


class Rule(_Strict):
    """Escalations it takes and the steps they get until acknowledged."""

    name: str
    match: Match = Match()
    steps: tuple[StepSpec, ...] = Field(min_length=1)
    ack_timeout_seconds: Annotated[float, Field(gt=0)] = 900
    repeat: Annotated[int, Field(ge=0)] = 0  # rounds of all steps again, each ack_timeout later


class Grouping(_Strict):
    """When a group is paged again: its urgency rises or its member count crosses a step."""

    member_steps: tuple[Annotated[int, Field(ge=1)], ...] = (1, 10, 50)


class Policy(_Strict):
    """The whole notification policy."""

    version: str
    channels: Channels
    targets: dict[str, Target]
    rules: tuple[Rule, ...]
    grouping: Grouping = Grouping()

    def rule_for(self, event: MentionEscalated) -> Rule | None:
        """The first rule that takes `event`, or None (nobody is paged)."""
        return next((rule for rule in self.rules if rule.match.takes(event)), None)


@dataclass(frozen=True)
class PlannedSend:
    """One message to send: to `target` on `channel`, `after_seconds` from the escalation."""

    step: str  # "r<round>s<index>": part of the dedupe key
    target: str
    channel: ChannelKind
    address: str
    after_seconds: float


def plan(policy: Policy, rule: Rule) -> list[PlannedSend]:
    """Every send `rule` asks for, rounds of repeats included, soonest first."""
    planned = []
    last = max(step.after_seconds for step in rule.steps)
    for round_ in range(rule.repeat + 1):
        offset = round_ * (last + rule.ack_timeout_seconds)
        for index, step in enumerate(rule.steps):
            for target in step.targets:
                for channel in step.channels:
                    address = policy.targets[target].address(channel)
                    assert address is not None  # checked by `check`
                    planned.append(
                        PlannedSend(
                            step=f"r{round_}s{index}",
                            target=target,
                            channel=channel,
                            address=address,
                            after_seconds=offset + step.after_seconds,
                        )
                    )
    return sorted(planned, key=lambda send: send.after_seconds)


def check(policy: Policy) -> None:
    """Raise PolicyError naming the first rule step that uses a channel or target that is
    not configured, or a target that has no address on a channel it is sent on."""
    configured = policy.channels.configured()
    steps = policy.grouping.member_steps
    if list(steps) != sorted(set(steps)) or steps[0] != 1:
        raise PolicyError("grouping.member_steps: must rise strictly and start at 1")
    for name, contact in policy.targets.items():
        for kind in ChannelKind:
            if contact.address(kind) is not None and kind not in configured:
                raise PolicyError(
                    f"targets.{name}.{kind.value}: channel {kind.value} is not configured"
                )
    for rule in policy.rules:
        for index, step in enumerate(rule.steps):
            where = f"rules.{rule.name}.steps[{index}]"
            for channel in step.channels:
                if channel not in configured:
                    raise PolicyError(f"{where}.channels: unknown channel {channel.value}")
            for target in step.targets:
                if target not in policy.targets:
                    raise PolicyError(f"{where}.targets: unknown target {target}")
                for channel in step.channels:
                    if policy.targets[target].address(channel) is None:
                        raise PolicyError(
                            f"{where}: target {target} has no {channel.value} address"
                        )


def parse(text: str) -> Policy:
    """The policy in `text`, checked; PolicyError naming the field and the reason otherwise."""
    raw: Any = parse_yaml(text, PolicyError)
    if not isinstance(raw, dict):
        raise PolicyError("the policy must be a YAML mapping")
    _refuse_unknown_channels(raw)
    try:
        policy = Policy.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise PolicyError(f"{where}: {first['msg']}") from None
    check(policy)
    return policy


def _refuse_unknown_channels(raw: dict[str, Any]) -> None:
    # pydantic would say "Input should be 'webhook', ..." about an index; name the channel.
    known = {kind.value for kind in ChannelKind}
    for name in raw.get("channels") or {}:
        if name not in known:
            raise PolicyError(
                f"channels.{name}: unknown channel {name} (known: {', '.join(sorted(known))})"
            )
    for rule in raw.get("rules") or []:
        for index, step in enumerate((rule or {}).get("steps") or []):
            for channel in (step or {}).get("channels") or []:
                if channel not in known:
                    raise PolicyError(
                        f"rules.{rule.get('name')}.steps[{index}].channels: unknown channel {channel}"
                    )


def load(path: Path | None) -> Policy:
    """The policy at `path`, or the shipped one when None."""
    try:
        text = text_or_shipped(path, package="switchboard_notifier", name=SHIPPED)
    except OSError as exc:
        raise PolicyError(f"cannot read {path}: {exc.strerror}") from exc
    return parse(text)
