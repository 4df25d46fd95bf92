"""Settings every service shares, read once from `SWITCHBOARD_*` variables.

Each service subclasses `CommonSettings` with its own fields; its entrypoint
builds the object once and passes it down. Nothing reads the environment at
import time.

`KafkaSettings` is the one description of how a service reaches Kafka: the
bootstrap servers and the transport security (TLS, SASL). It is checked when
it is read, so a service with half a security configuration refuses to start
and says which `SWITCHBOARD_KAFKA_*` variable is wrong, instead of connecting
in the clear or retrying a doomed handshake forever.
"""

from __future__ import annotations

import ssl
from enum import StrEnum
from pathlib import Path
from typing import Any, Self

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "SWITCHBOARD_"


class KafkaSecurityProtocol(StrEnum):
    """How a client talks to the brokers (Kafka's `security.protocol`)."""

    PLAINTEXT = "PLAINTEXT"
    SSL = "SSL"
    SASL_PLAINTEXT = "SASL_PLAINTEXT"
    SASL_SSL = "SASL_SSL"

    @property
    def uses_tls(self) -> bool:
        """True when the connection is encrypted and the broker's certificate checked."""
        return self in (KafkaSecurityProtocol.SSL, KafkaSecurityProtocol.SASL_SSL)

    @property
    def uses_sasl(self) -> bool:
        """True when the client authenticates with a SASL username and password."""
        return self in (KafkaSecurityProtocol.SASL_PLAINTEXT, KafkaSecurityProtocol.SASL_SSL)


class KafkaSaslMechanism(StrEnum):
    """SASL mechanisms Switchboard supports (all take a username and password)."""

    PLAIN = "PLAIN"
    SCRAM_SHA_256 = "SCRAM-SHA-256"
    SCRAM_SHA_512 = "SCRAM-SHA-512"


def env_name(field: str) -> str:
    """The environment variable that sets a settings field."""
    return f"{ENV_PREFIX}{field.upper()}"


# Field factories: each service declares its own `<service>_*` fields (so every
# setting keeps its env name beside it), and a field every service has, or a
# kind of field many have, takes its constraint and wording from here.


def listen_host(listener: str = "the HTTP API") -> Any:
    """A service's bind address: loopback unless the deployment opens it."""
    return Field("127.0.0.1", description=f"Address {listener} binds.")


def metrics_port(beside: str = "the HTTP API") -> Any:
    """The optional port of a service's separate /metrics listener."""
    return Field(
        None,
        description=f"Port of a separate /metrics listener on the same address as {beside}; "
        f"when set, the {beside.removeprefix('the ')} port answers 404 for /metrics.",
    )


def metrics_token() -> Any:
    """The optional bearer token a service's /metrics requires."""
    return Field(
        None,
        description="Bearer token /metrics requires wherever it is served (at least 16 "
        "characters; Prometheus sends it as authorization credentials). Unset: no token.",
    )


def api_docs() -> Any:
    """Whether a service serves its API documentation (off unless asked for)."""
    return Field(
        False,
        description="Serve the API documentation (/docs, /redoc, /openapi.json); off unless "
        "asked for (make run turns it on).",
    )


def api_docs_urls(enabled: bool) -> dict[str, Any]:
    """Where an HTTP service serves its API documentation: nowhere unless `enabled`.

    The API's map helps an attacker as much as a developer, so it is off unless
    the service's `<service>_api_docs` setting asks for it.
    """
    pages = {"docs_url": "/docs", "redoc_url": "/redoc", "openapi_url": "/openapi.json"}
    return {name: path if enabled else None for name, path in pages.items()}


def unset(description: str) -> Any:
    """An optional setting: None until the environment gives it."""
    return Field(None, description=description)


def positive(default: float, description: str) -> Any:
    """A number above zero: a rate, or seconds to wait."""
    return Field(default, gt=0, description=description)


def at_least(minimum: int, default: int, description: str) -> Any:
    """A whole number no smaller than `minimum`: a count, a size or a burst."""
    return Field(default, ge=minimum, description=description)


def no_key_password() -> str:
    """Answers OpenSSL's question for an encrypted key that has no password set.

    Without it OpenSSL would prompt on the terminal and a service would hang;
    with it loading fails, and the error names the setting.
    """
    return ""


class KafkaSettings(BaseSettings):
    """Where Kafka is and how to reach it securely (`SWITCHBOARD_KAFKA_*`)."""

    # hide_input_in_errors: a validation error must not echo the raw input,
    # which holds the SASL password.
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, frozen=True, extra="ignore", hide_input_in_errors=True
    )

    kafka_bootstrap_servers: str = Field(
        "127.0.0.1:9092", description="Kafka bootstrap servers, comma-separated host:port."
    )
    kafka_security_protocol: KafkaSecurityProtocol = Field(
        KafkaSecurityProtocol.PLAINTEXT,
        description="PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL (production: SASL_SSL or SSL).",
    )
    kafka_sasl_mechanism: KafkaSaslMechanism = Field(
        KafkaSaslMechanism.SCRAM_SHA_512,
        description="SASL mechanism with the SASL_* protocols: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512.",
    )
    kafka_sasl_username: str | None = unset("SASL username (required with the SASL_* protocols).")
    kafka_sasl_password: SecretStr | None = unset(
        "SASL password (required with the SASL_* protocols; never logged)."
    )
    kafka_ssl_cafile: Path | None = unset(
        "PEM CA bundle the brokers' certificates are checked against (SSL, SASL_SSL); unset: the system's trust store."
    )
    kafka_ssl_certfile: Path | None = unset(
        "PEM client certificate for TLS client authentication (mutual TLS)."
    )
    kafka_ssl_keyfile: Path | None = unset(
        "PEM private key of the client certificate (if not in its file)."
    )
    kafka_ssl_key_password: SecretStr | None = unset(
        "Password of an encrypted client key (never logged)."
    )
    kafka_ssl_check_hostname: bool = Field(
        True,
        description="Check that a broker's certificate names the host connected to (off only for brokers reached by an address their certificate lacks).",
    )

    # Accept `sasl_ssl` or `scram_sha_512` as well: the spellings differ across tools.
    @field_validator("kafka_security_protocol", mode="before")
    @classmethod
    def _protocol_spelling(cls, value: Any) -> Any:
        return value.strip().upper().replace("-", "_") if isinstance(value, str) else value

    @field_validator("kafka_sasl_mechanism", mode="before")
    @classmethod
    def _mechanism_spelling(cls, value: Any) -> Any:
        return value.strip().upper().replace("_", "-") if isinstance(value, str) else value

    # An empty variable (compose's `${VAR:-}`) means unset, not the path "." or an empty password.
    @field_validator(
        "kafka_sasl_username",
        "kafka_sasl_password",
        "kafka_ssl_cafile",
        "kafka_ssl_certfile",
        "kafka_ssl_keyfile",
        "kafka_ssl_key_password",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @model_validator(mode="after")
    def _security_is_complete(self) -> Self:
        protocol = self.kafka_security_protocol
        if protocol.uses_sasl:
            for field in ("kafka_sasl_username", "kafka_sasl_password"):
                value = getattr(self, field)
                if not (value.get_secret_value() if isinstance(value, SecretStr) else value):
                    raise ValueError(
                        f"{env_name(field)} is required when "
                        f"{env_name('kafka_security_protocol')} is {protocol.value}"
                    )
        elif self.kafka_sasl_username or self.kafka_sasl_password:
            raise ValueError(
                f"SASL credentials are set but {env_name('kafka_security_protocol')} is "
                f"{protocol.value}: they would not be used (set it to SASL_SSL)"
            )
        tls_fields = ("kafka_ssl_cafile", "kafka_ssl_certfile", "kafka_ssl_keyfile")
        if not protocol.uses_tls:
            given = [env_name(field) for field in tls_fields if getattr(self, field) is not None]
            if given:
                raise ValueError(
                    f"{', '.join(given)} set but {env_name('kafka_security_protocol')} is "
                    f"{protocol.value}, which does not use TLS (set it to SSL or SASL_SSL)"
                )
            return self
        for field in tls_fields:
            path = getattr(self, field)
            if path is not None and not path.is_file():
                raise ValueError(f"{env_name(field)}: {path} is not a readable file")
        if self.kafka_ssl_keyfile is not None and self.kafka_ssl_certfile is None:
            raise ValueError(
                f"{env_name('kafka_ssl_keyfile')} is set without {env_name('kafka_ssl_certfile')}"
            )
        self._check_tls_files_load()
        return self

    def _check_tls_files_load(self) -> None:
        """Load the CA and client certificate once now, so a bad file stops start-up."""
        try:
            context = ssl.create_default_context(cafile=self.kafka_ssl_cafile)
        except (ssl.SSLError, OSError) as exc:
            raise ValueError(
                f"{env_name('kafka_ssl_cafile')}: cannot load {self.kafka_ssl_cafile} "
                f"as PEM certificates ({exc})"
            ) from None
        if self.kafka_ssl_certfile is None:
            return
        try:
            context.load_cert_chain(
                self.kafka_ssl_certfile, self.kafka_ssl_keyfile, self.key_password()
            )
        except (ssl.SSLError, OSError) as exc:
            raise ValueError(
                f"{env_name('kafka_ssl_certfile')} / {env_name('kafka_ssl_keyfile')}: cannot "
                f"load the client certificate and key (wrong {env_name('kafka_ssl_key_password')}?"
                f" {exc.__class__.__name__})"
            ) from None

    def key_password(self) -> Any:
        """The client key's password as OpenSSL takes it (a callable when none is set)."""
        if self.kafka_ssl_key_password is None:
            return no_key_password
        return self.kafka_ssl_key_password.get_secret_value()


class CommonSettings(KafkaSettings):
    """Settings shared by every Switchboard service."""

    topic_prefix: str = Field(
        "", description="Prefix put before every topic name (one cluster, several deployments)."
    )
    log_level: str = Field("INFO", description="Log level: DEBUG, INFO, WARNING or ERROR.")
    kafka_ack_timeout_seconds: float = positive(
        5.0, "How long to wait for Kafka to acknowledge a write before giving up."
    )
    topic_replication_factor: int = at_least(
        1, 1, "Replication factor of topics created at start-up (3 on a production cluster)."
    )
    create_topics: bool = Field(
        True, description="Create missing topics at start-up (off where an operator owns them)."
    )


class EmptyIsUnsetSettings(CommonSettings):
    """Common settings where an empty variable (compose's `${VAR:-}`) means unset everywhere.

    For services whose optional settings compose passes through as `${VAR:-}`:
    an empty secret or channel list is then no secret or no channel, not "".
    """

    model_config = SettingsConfigDict(
        {**CommonSettings.model_config, "env_ignore_empty": True}  # type: ignore[typeddict-item]
    )
