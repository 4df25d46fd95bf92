"""The ingest service's settings, read once by its entrypoint."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field, IPvAnyNetwork, SecretStr, model_validator

from switchboard_shared.metrics_server import MetricsToken
from switchboard_shared.settings import CommonSettings


class IngestSettings(CommonSettings):
    """Settings of the ingest service (`SWITCHBOARD_INGEST_*`)."""

    ingest_host: str = Field("127.0.0.1", description="Address the HTTP API binds.")
    ingest_port: int = Field(8001, description="Port of the HTTP API.")
    ingest_metrics_port: int | None = Field(
        None,
        description="Port of a separate /metrics listener on the same address as the HTTP API; "
        "when set, the HTTP API port answers 404 for /metrics.",
    )
    ingest_metrics_token: MetricsToken | None = Field(
        None,
        description="Bearer token /metrics requires wherever it is served (at least 16 "
        "characters; Prometheus sends it as authorization credentials). Unset: no token.",
    )
    ingest_api_docs: bool = Field(
        False,
        description="Serve the API documentation (/docs, /redoc, /openapi.json); off unless "
        "asked for (make run turns it on).",
    )
    ingest_max_body_bytes: Annotated[int, Field(ge=1024)] = Field(
        1024 * 1024, description="Largest request body accepted; larger ones get 413."
    )
    ingest_batch_max_items: Annotated[int, Field(ge=1, le=10_000)] = Field(
        500, description="Most mentions in one POST /v1/mentions/batch."
    )
    ingest_retry_after_seconds: Annotated[int, Field(ge=1)] = Field(
        5, description="Retry-After sent with 503 when Kafka cannot take a write."
    )
    ingest_max_in_flight: Annotated[int, Field(ge=1)] = Field(
        2000,
        description="Most mentions waiting for Kafka's ack at once; beyond it intake answers 503.",
    )
    ingest_api_keys_file: Path | None = Field(
        None,
        description="JSON file of API keys (name, sha256 hash, sources, optional agency). "
        "Unset: ingest refuses to start unless SWITCHBOARD_INGEST_ALLOW_OPEN is true.",
    )
    ingest_allow_open: bool = Field(
        False,
        description="True: with no API keys file, accept mentions from anyone (development "
        "only). False: no keys file, no start.",
    )
    ingest_key_rate_per_second: Annotated[float, Field(gt=0)] = Field(
        50.0,
        description="Mentions per second one API key may post, sustained (a batch costs its "
        "items); beyond it 429 with Retry-After. Open intake is limited per client address.",
    )
    ingest_key_burst: Annotated[int, Field(ge=1)] = Field(
        500,
        description="Mentions one API key may post at once before its rate applies (at least "
        "SWITCHBOARD_INGEST_BATCH_MAX_ITEMS, so a full batch can pass).",
    )
    ingest_webhook_rate_per_second: Annotated[float, Field(gt=0)] = Field(
        50.0,
        description="Signed deliveries per second each platform webhook (X, Meta) takes, "
        "sustained; beyond it 429 with Retry-After (the platform redelivers).",
    )
    ingest_webhook_burst: Annotated[int, Field(ge=1)] = Field(
        200, description="Signed deliveries each platform webhook takes at once."
    )
    ingest_handshake_rate_per_second: Annotated[float, Field(gt=0)] = Field(
        1.0,
        description="X CRC and Meta handshake requests per second per client address, "
        "sustained (they are unauthenticated); beyond it 429.",
    )
    ingest_handshake_burst: Annotated[int, Field(ge=1)] = Field(
        10, description="X CRC and Meta handshake requests one client address may make at once."
    )
    ingest_dedup_window_seconds: Annotated[int, Field(ge=0)] = Field(
        24 * 3600, description="How long a (source, source id) is remembered as a duplicate."
    )
    ingest_dedup_max_entries: Annotated[int, Field(ge=1000)] = Field(
        500_000, description="Most mention ids remembered for duplicate detection (oldest dropped)."
    )
    ingest_x_consumer_secret: SecretStr | None = Field(
        None, description="X app consumer secret: enables /v1/webhooks/x (CRC and signatures)."
    )
    ingest_meta_app_secret: SecretStr | None = Field(
        None, description="Meta app secret: enables /v1/webhooks/meta (X-Hub-Signature-256)."
    )
    ingest_meta_verify_token: SecretStr | None = Field(
        None, description="Meta webhook verify token answered in the hub.challenge handshake."
    )
    ingest_state_dir: Path = Field(
        Path(".run/ingest-state"), description="Where pull connectors keep their durable cursors."
    )
    ingest_rss_feeds: list[str] = Field(
        default_factory=list, description='RSS/Atom feed URLs to poll (JSON list: ["https://..."]).'
    )
    ingest_rss_poll_seconds: Annotated[float, Field(ge=1)] = Field(
        60.0, description="Seconds between polls of each feed (the polite rate)."
    )
    ingest_mastodon_base_url: str | None = Field(
        None, description="Mastodon instance URL: enables the Mastodon streaming connector."
    )
    ingest_mastodon_hashtag: str | None = Field(
        None, description="Hashtag (without #) the Mastodon connector follows."
    )
    ingest_mastodon_access_token: SecretStr | None = Field(
        None, description="Mastodon access token, if the instance requires one for streaming."
    )
    ingest_connector_allow_private_networks: bool = Field(
        False,
        description="Let pull connectors reach loopback, private and other non-public addresses "
        "(local stand-ins, development); link-local (cloud metadata) stays refused unless listed "
        "in SWITCHBOARD_INGEST_CONNECTOR_ALLOWED_NETWORKS.",
    )
    ingest_connector_allowed_networks: list[IPvAnyNetwork] = Field(
        default_factory=list,
        description="Networks pull connectors may reach though not public (JSON list of CIDRs: "
        '["10.2.0.0/16"], e.g. an internal Mastodon instance).',
    )
    ingest_connector_max_redirects: Annotated[int, Field(ge=0, le=20)] = Field(
        5, description="Most redirects a pull connector follows for one fetch (each one vetted)."
    )
    ingest_connector_max_body_bytes: Annotated[int, Field(ge=1024)] = Field(
        8 * 1024 * 1024,
        description="Largest feed or timeline body a pull connector reads; reading stops beyond it.",
    )
    ingest_connector_max_line_bytes: Annotated[int, Field(ge=1024)] = Field(
        1024 * 1024,
        description="Longest line (and event) of the Mastodon stream; a longer one drops the "
        "connection.",
    )
    ingest_connector_rate_per_second: Annotated[float, Field(gt=0)] = Field(
        20.0,
        description="Items per second one pull connector submits, sustained; a faster feed is "
        "held back (never dropped) so one loud source cannot crowd out the API doors.",
    )
    ingest_connector_burst: Annotated[int, Field(ge=1)] = Field(
        100, description="Items one pull connector may submit at once before its rate applies."
    )

    @model_validator(mode="after")
    def _a_full_batch_fits_the_burst(self) -> IngestSettings:
        if self.ingest_key_burst < self.ingest_batch_max_items:
            raise ValueError(
                f"ingest_key_burst ({self.ingest_key_burst}) must be at least "
                f"ingest_batch_max_items ({self.ingest_batch_max_items}): a full batch could "
                "never pass the rate limit"
            )
        return self
