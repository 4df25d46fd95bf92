"""The router's settings, read once by its entrypoint."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field

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
    database_url: str = Field(
        "sqlite:///.run/switchboard-router.db",
        description="SQLAlchemy URL of the router's store (postgresql+psycopg://... in production).",
    )
