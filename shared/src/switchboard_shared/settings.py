"""Settings every service shares, read once from `SWITCHBOARD_*` variables.

Each service subclasses `CommonSettings` with its own fields; its entrypoint
builds the object once and passes it down. Nothing reads the environment at
import time.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "SWITCHBOARD_"


class CommonSettings(BaseSettings):
    """Settings shared by every Switchboard service."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, frozen=True, extra="ignore")

    kafka_bootstrap_servers: str = Field(
        "127.0.0.1:9092", description="Kafka bootstrap servers, comma-separated host:port."
    )
    topic_prefix: str = Field(
        "", description="Prefix put before every topic name (one cluster, several deployments)."
    )
    log_level: str = Field("INFO", description="Log level: DEBUG, INFO, WARNING or ERROR.")
    kafka_ack_timeout_seconds: Annotated[float, Field(gt=0)] = Field(
        5.0, description="How long to wait for Kafka to acknowledge a write before giving up."
    )
    topic_replication_factor: Annotated[int, Field(ge=1)] = Field(
        1,
        description="Replication factor of topics created at start-up (3 on a production cluster).",
    )
    create_topics: bool = Field(
        True, description="Create missing topics at start-up (off where an operator owns them)."
    )
