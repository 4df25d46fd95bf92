"""The ingest service's settings, read once by its entrypoint."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from switchboard_shared.settings import CommonSettings


class IngestSettings(CommonSettings):
    """Settings of the ingest service (`SWITCHBOARD_INGEST_*`)."""

    ingest_host: str = Field("127.0.0.1", description="Address the HTTP API binds.")
    ingest_port: int = Field(8001, description="Port of the HTTP API.")
    ingest_max_body_bytes: Annotated[int, Field(ge=1024)] = Field(
        256 * 1024, description="Largest request body accepted; larger ones get 413."
    )
    ingest_retry_after_seconds: Annotated[int, Field(ge=1)] = Field(
        5, description="Retry-After sent with 503 when Kafka cannot take a write."
    )
