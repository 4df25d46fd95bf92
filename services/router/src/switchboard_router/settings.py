"""The router's settings, read once by its entrypoint."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, model_validator

from switchboard_shared import settings as shared
from switchboard_shared.metrics_server import MetricsToken
from switchboard_shared.settings import CommonSettings


class RouterSettings(CommonSettings):
    """Settings of the router service (`SWITCHBOARD_ROUTER_*` and the database URL)."""

    router_host: str = shared.listen_host()
    router_port: int = Field(8003, description="Port of the HTTP API.")
    router_metrics_port: int | None = shared.metrics_port()
    router_metrics_token: MetricsToken | None = shared.metrics_token()
    router_api_docs: bool = shared.api_docs()
    router_metrics_refresh_seconds: Annotated[float, Field(gt=0, le=300)] = Field(
        5.0,
        description="How often the queue and outbox gauges are read from the database; a "
        "scrape serves the last reading and never queries the database.",
    )
    router_group_id: str = Field("switchboard-router", description="Kafka consumer group.")
    router_batch_size: Annotated[int, Field(ge=1, le=10_000)] = Field(
        500, description="Most classified mentions stored per database transaction."
    )
    router_kafka_linger_ms: Annotated[int, Field(ge=0, le=1000)] = Field(
        0,
        description="How long the router's producer holds a routed event or dead letter for "
        "more to join its batch. 0: none; batches still grow under load (records wait for "
        "the request in flight).",
    )
    router_policy_path: Path | None = shared.unset(
        "YAML routing policy to use instead of the shipped one."
    )
    router_incidents_path: Path | None = shared.unset(
        "YAML incident clustering configuration (thresholds, windows) to use instead of the shipped one."
    )
    router_bootstrap_admin_token: SecretStr | None = shared.unset(
        "When set, an admin whose bearer token is this value exists after start-up (stored hashed)."
    )
    router_lease_seconds: float = shared.positive(
        120.0,
        "How long a claim holds without acknowledgement or heartbeat before the item returns to the pool.",
    )
    router_clock_seconds: Annotated[float, Field(gt=0, le=60)] = Field(
        1.0,
        description="Interval of the clock: lease expiry, SLA breaches, escalation, assignment, policy reload.",
    )
    router_max_body_bytes: int = shared.at_least(
        1024, 65_536, "Largest request body accepted; larger ones get 413."
    )
    router_stream_poll_seconds: Annotated[float, Field(gt=0, le=10)] = Field(
        0.5, description="How often GET /v1/stream looks for new item changes."
    )
    router_stream_replay_max: Annotated[int, Field(ge=0, le=100_000)] = Field(
        1000,
        description="Most past changes GET /v1/stream replays for a Last-Event-ID (counted in audit rows back from the newest).",
    )
    router_token_lifetime_seconds: int = shared.at_least(
        60,
        30 * 24 * 3600,
        "Lifetime of a token issued through the API (a request may ask for less); the bootstrap token does not expire but is revoked when the setting changes.",
    )
    router_redact_after_days: int = shared.at_least(
        1,
        90,
        "Days after receipt when an item's mention text, author, place, links and matched words are blanked.",
    )
    router_delete_after_days: int = shared.at_least(
        1,
        365,
        "Days after receipt when an item is deleted with its notes, watch copies and item audit trail.",
    )
    router_access_audit_days: int = shared.at_least(
        1,
        730,
        "Days the access audit (who read or changed what) is kept; at least the item window.",
    )
    router_token_rate_per_second: float = shared.positive(
        20.0,
        "Requests per second one bearer token may make, sustained; beyond it 429 with Retry-After.",
    )
    router_token_burst: int = shared.at_least(
        1, 200, "Requests one bearer token may make at once before its rate applies."
    )
    database_url: str = Field(
        "sqlite:///.run/switchboard-router.db",
        description="SQLAlchemy URL of the router's store (postgresql+psycopg://... in production).",
    )
    router_districts_path: Path | None = shared.unset(
        "District GeoJSON (polygons with a `name`) the console draws, instead of the shipped "
        "demo city; the classifier's SWITCHBOARD_CLASSIFIER_DISTRICTS_PATH should be the same map."
    )

    @model_validator(mode="after")
    def _windows_in_order(self) -> RouterSettings:
        # Redaction before deletion, and the record of who saw an item outlives it.
        if self.router_delete_after_days < self.router_redact_after_days:
            raise ValueError("router_delete_after_days: must be at least router_redact_after_days")
        if self.router_access_audit_days < self.router_delete_after_days:
            raise ValueError("router_access_audit_days: must be at least router_delete_after_days")
        return self
