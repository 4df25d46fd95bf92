"""Prometheus plumbing shared by the services.

Each service declares its own metrics in its `metrics.py`
(`switchboard_<service>_<thing>_<unit>`); this module only renders them.
"""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest

# Buckets for latencies from a millisecond to half a minute: Kafka acks,
# HTTP requests and end-to-end pipeline delays all fit.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


def render(registry: CollectorRegistry = REGISTRY) -> tuple[bytes, str]:
    """The registry in Prometheus text format, and its content type."""
    return generate_latest(registry), CONTENT_TYPE_LATEST
