"""The responder's settings, read once by its entrypoint and passed down.

Channels are one JSON object, keyed by the source a reply answers:

    SWITCHBOARD_RESPONDER_CHANNELS='{"mastodon": {"base_url": "https://social.example",
        "token": "...", "max_chars": 500}, "x": {...}, "facebook": {...}}'

A bad channel stops start-up with an error naming the field, never echoing a token.
"""

from __future__ import annotations

from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from switchboard_responder.platforms import PLATFORM_OF_SOURCE, Platform, platform_of
from switchboard_shared import settings as shared
from switchboard_shared.events import Source
from switchboard_shared.metrics_server import MetricsToken
from switchboard_shared.settings import EmptyIsUnsetSettings, env_name


class ChannelSettings(BaseModel):
    """The account the responder answers one source with."""

    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)

    base_url: str = Field(description="The platform API's base URL (https://api.x.com, ...).")
    token: SecretStr = Field(
        min_length=1, description="Bearer token (X, Mastodon) or page access token (Meta)."
    )
    max_chars: Annotated[int, Field(ge=1)] | None = Field(
        None,
        description="Longest reply the account may post (required for Mastodon: the "
        "instance's character limit); longer ones fail before any request.",
    )

    @field_validator("base_url")
    @classmethod
    def _is_http_url(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")):
            raise ValueError("must start with https:// (or http:// for a local stand-in)")
        return value.rstrip("/")


class ResponderSettings(EmptyIsUnsetSettings):
    """Settings of the responder service (`SWITCHBOARD_RESPONDER_*`)."""

    responder_host: str = shared.listen_host("the health and metrics listener")
    responder_port: int = Field(8004, description="Port of /healthz, /readyz and /metrics.")
    responder_metrics_port: int | None = shared.metrics_port()
    responder_metrics_token: MetricsToken | None = shared.metrics_token()
    responder_group_id: str = Field("switchboard-responder", description="Kafka consumer group.")
    database_url: str = Field(
        "sqlite:///.run/switchboard-responder.db",
        description="SQLAlchemy URL of the send ledger (postgresql+psycopg://... in production; "
        "may be the router's database: the ledger is a table of its own).",
    )
    responder_channels: dict[Source, ChannelSettings] = Field(
        default_factory=dict,
        description="JSON object: source -> {base_url, token, max_chars}. A source without a "
        "channel gets failed_permanent outcomes.",
    )
    responder_request_timeout_seconds: float = shared.positive(
        10.0, "How long to wait for a platform's answer once the request is sent."
    )
    responder_connect_timeout_seconds: float = shared.positive(
        3.0, "How long to wait for a connection to a platform (nothing is sent before it)."
    )
    responder_max_retries: int = shared.at_least(
        0,
        3,
        "Resends of one attempt after a failure that allows one (refused connection; Mastodon "
        "5xx or lost answer), before it ends failed_retryable.",
    )
    responder_retry_backoff_seconds: float = shared.positive(
        1.0, "Wait before the first resend; it doubles with each one after."
    )
    responder_rate_limit_wait_seconds: float = shared.positive(
        60.0, "Wait after a rate limit whose answer gives no reset time."
    )
    responder_auth_retry_seconds: float = shared.positive(
        60.0, "While a channel's credentials are refused, how often one send probes them again."
    )
    responder_max_in_flight: int = shared.at_least(
        1, 200, "Most requests handled at once; beyond it the consumer pauses."
    )

    @model_validator(mode="after")
    def _channels_fit_their_platform(self) -> Self:
        field = env_name("responder_channels")
        for source, channel in self.responder_channels.items():
            platform = platform_of(source)
            if platform is None:
                known = ", ".join(sorted(s.value for s in PLATFORM_OF_SOURCE))
                raise ValueError(
                    f"{field}.{source.value}: the responder cannot post to {source.value} "
                    f"(channels exist for {known})"
                )
            if platform is Platform.MASTODON and channel.max_chars is None:
                raise ValueError(
                    f"{field}.{source.value}.max_chars: required for a Mastodon channel "
                    "(the instance's character limit)"
                )
        return self
