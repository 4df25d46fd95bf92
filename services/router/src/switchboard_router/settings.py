"""The router's settings, read once by its entrypoint."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr

from switchboard_shared.settings import CommonSettings


class RouterSettings(CommonSettings):
    """Settings of the router service (`SWITCHBOARD_ROUTER_*` and the database URL)."""

    router_host: str = Field("127.0.0.1", description="Address the HTTP API binds.")
    router_port: int = Field(8003, description="Port of the HTTP API.")
    router_group_id: str = Field("switchboard-router", description="Kafka consumer group.")
    router_batch_size: Annotated[int, Field(ge=1, le=10_000)] = Field(
        500, description="Most classified mentions stored per database transaction."
    )
    router_policy_path: Path | None = Field(
        None, description="YAML routing policy to use instead of the shipped one."
    )
    router_bootstrap_admin_token: SecretStr | None = Field(
        None,
        description="When set, an admin whose bearer token is this value exists after start-up (stored hashed).",
    )
    router_lease_seconds: Annotated[float, Field(gt=0)] = Field(
        120.0,
        description="How long a claim holds without acknowledgement or heartbeat before the item returns to the pool.",
    )
    router_clock_seconds: Annotated[float, Field(gt=0, le=60)] = Field(
        1.0,
        description="Interval of the clock: lease expiry, SLA breaches, escalation, assignment, policy reload.",
    )
    router_max_body_bytes: Annotated[int, Field(ge=1024)] = Field(
        65_536, description="Largest request body accepted; larger ones get 413."
    )
    router_stream_poll_seconds: Annotated[float, Field(gt=0, le=10)] = Field(
        0.5, description="How often GET /v1/stream looks for new item changes."
    )
    router_token_rate_per_second: Annotated[float, Field(gt=0)] = Field(
        20.0,
        description="Requests per second one bearer token may make, sustained; beyond it 429 "
        "with Retry-After.",
    )
    router_token_burst: Annotated[int, Field(ge=1)] = Field(
        200, description="Requests one bearer token may make at once before its rate applies."
    )
    database_url: str = Field(
        "sqlite:///.run/switchboard-router.db",
        description="SQLAlchemy URL of the router's store (postgresql+psycopg://... in production).",
    )
