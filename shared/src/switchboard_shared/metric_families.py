"""Metric families several services declare alike: dead letters, retried writes, policy reloads.

Each service still names its own metric in its `metrics.py` (the full
`switchboard_<service>_..._total`, so a dashboard's name is found where it is
declared) and says what it counts; the kind and the label come from here, so
the same family carries the same label in every service.
"""

from __future__ import annotations

from enum import StrEnum

from prometheus_client import Counter


class Failed(StrEnum):
    """What a retried write went to (the `failed` label of a service's retries counter)."""

    KAFKA = "kafka"
    DATABASE = "database"


def dead_letters(name: str, documentation: str) -> Counter:
    """A counter of records sent to the dead-letter topic, by `reason` (a DeadLetterReason)."""
    return Counter(name, documentation, ["reason"])


def retries(name: str, documentation: str) -> Counter:
    """A counter of writes retried after a failure, by what `failed` (a Failed)."""
    return Counter(name, documentation, ["failed"])


def policy_reloads(name: str, documentation: str) -> Counter:
    """A counter of changed policy files, by `outcome` (a ReloadOutcome)."""
    return Counter(name, documentation, ["outcome"])
