"""The ingest service's settings, read once by its entrypoint."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field, IPvAnyNetwork, SecretStr, model_validator

from switchboard_shared import settings as shared
from switchboard_shared.metrics_server import MetricsToken
from switchboard_shared.settings import CommonSettings


class IngestSettings(CommonSettings):
    """Settings of the ingest service (`SWITCHBOARD_INGEST_*`)."""

    ingest_host: str = shared.listen_host()
    ingest_port: int = Field(8001, description="Port of the HTTP API.")
    ingest_metrics_port: int | None = shared.metrics_port()
    ingest_metrics_token: MetricsToken | None = shared.metrics_token()
    ingest_api_docs: bool = shared.api_docs()
    ingest_max_body_bytes: int = shared.at_least(
        1024, 1024 * 1024, "Largest request body accepted; larger ones get 413."
    )
    ingest_batch_max_items: Annotated[int, Field(ge=1, le=10_000)] = Field(
        500, description="Most mentions in one POST /v1/mentions/batch."
    )
    ingest_retry_after_seconds: int = shared.at_least(
        1, 5, "Retry-After sent with 503 when Kafka cannot take a write."
    )
    ingest_max_in_flight: int = shared.at_least(
        1, 2000, "Most mentions waiting for Kafka's ack at once; beyond it intake answers 503."
    )
    ingest_kafka_linger_ms: Annotated[int, Field(ge=0, le=1000)] = Field(
        0,
        description="How long the producer holds a raw record for more to join its batch; "
        "every 202 waits for it. 0: none; batches still grow under load (records wait for "
        "the request in flight).",
    )
    ingest_api_keys_file: Path | None = shared.unset(
        "JSON file of API keys (name, sha256 hash, sources, optional agency). "
        "Unset: ingest refuses to start unless SWITCHBOARD_INGEST_ALLOW_OPEN is true."
    )
    ingest_allow_open: bool = Field(
        False,
        description="True: with no API keys file, accept mentions from anyone (development "
        "only). False: no keys file, no start.",
    )
    ingest_key_rate_per_second: float = shared.positive(
        50.0,
        "Mentions per second one API key may post, sustained (a batch costs its "
        "items); beyond it 429 with Retry-After. Open intake is limited per client address.",
    )
    ingest_key_burst: int = shared.at_least(
        1,
        500,
        "Mentions one API key may post at once before its rate applies (at least "
        "SWITCHBOARD_INGEST_BATCH_MAX_ITEMS, so a full batch can pass).",
    )
    ingest_webhook_rate_per_second: float = shared.positive(
        50.0,
        "Signed deliveries per second each platform webhook (X, Meta) takes, "
        "sustained; beyond it 429 with Retry-After (the platform redelivers).",
    )
    ingest_webhook_burst: int = shared.at_least(
        1, 200, "Signed deliveries each platform webhook takes at once."
    )
    ingest_handshake_rate_per_second: float = shared.positive(
        1.0,
        "X CRC and Meta handshake requests per second per client address, "
        "sustained (they are unauthenticated); beyond it 429.",
    )
    ingest_handshake_burst: int = shared.at_least(
        1, 10, "X CRC and Meta handshake requests one client address may make at once."
    )
    ingest_dedup_window_seconds: int = shared.at_least(
        0, 24 * 3600, "How long a (source, source id) is remembered as a duplicate."
    )
    ingest_dedup_max_entries: int = shared.at_least(
        1000, 500_000, "Most mention ids remembered for duplicate detection (oldest dropped)."
    )
    ingest_x_consumer_secret: SecretStr | None = shared.unset(
        "X app consumer secret: enables /v1/webhooks/x (CRC and signatures)."
    )
    ingest_meta_app_secret: SecretStr | None = shared.unset(
        "Meta app secret: enables /v1/webhooks/meta (X-Hub-Signature-256)."
    )
    ingest_meta_verify_token: SecretStr | None = shared.unset(
        "Meta webhook verify token answered in the hub.challenge handshake."
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
    ingest_mastodon_base_url: str | None = shared.unset(
        "Mastodon instance URL: enables the Mastodon streaming connector."
    )
    ingest_mastodon_hashtag: str | None = shared.unset(
        "Hashtag (without #) the Mastodon connector follows."
    )
    ingest_mastodon_access_token: SecretStr | None = shared.unset(
        "Mastodon access token, if the instance requires one for streaming."
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
    ingest_connector_max_body_bytes: int = shared.at_least(
        1024,
        8 * 1024 * 1024,
        "Largest feed or timeline body a pull connector reads; reading stops beyond it.",
    )
    ingest_connector_max_line_bytes: int = shared.at_least(
        1024,
        1024 * 1024,
        "Longest line (and event) of the Mastodon stream; a longer one drops the connection.",
    )
    ingest_connector_rate_per_second: float = shared.positive(
        20.0,
        "Items per second one pull connector submits, sustained; a faster feed is "
        "held back (never dropped) so one loud source cannot crowd out the API doors.",
    )
    ingest_connector_burst: int = shared.at_least(
        1, 100, "Items one pull connector may submit at once before its rate applies."
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
