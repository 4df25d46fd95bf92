"""Prometheus plumbing shared by the services.

Each service declares its own metrics in its `metrics.py`
(`switchboard_<service>_<thing>_<unit>`); this module renders them, and
creates the series a service knows it will have before their first event.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)

# Buckets for latencies from a millisecond to half a minute: Kafka acks,
# HTTP requests and end-to-end pipeline delays all fit.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


def render(registry: CollectorRegistry = REGISTRY) -> tuple[bytes, str]:
    """The registry in Prometheus text format, and its content type."""
    return generate_latest(registry), CONTENT_TYPE_LATEST


def start_at_zero(metric: Counter | Histogram, **label_values: Iterable[str]) -> None:
    """Export every combination of these label values now, at zero; existing series keep theirs.

    A labelled series otherwise appears at its first event, and `rate()` or
    `increase()` cannot see the step from nothing to one: the first dead
    letter or 503 would never fire an alert. Gauges are left out on purpose:
    zero is a claim about a gauge (a queue is empty, a connector last
    succeeded in 1970), not an absence of events.
    """
    names = list(label_values)
    for values in itertools.product(*(tuple(label_values[name]) for name in names)):
        metric.labels(**dict(zip(names, values, strict=True)))
