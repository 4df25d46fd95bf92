"""The notifier's settings, read once by its entrypoint and passed down.

Who is paged, and how, is the notification policy (a YAML file, reloaded when
it changes); the secrets its channels need are settings, never in that file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Self

from pydantic import Field, SecretStr, model_validator

from switchboard_notifier.policy import ChannelKind, Policy, PolicyError
from switchboard_shared import settings as shared
from switchboard_shared.metrics_server import MetricsToken
from switchboard_shared.settings import EmptyIsUnsetSettings, env_name


class NotifierSettings(EmptyIsUnsetSettings):
    """Settings of the notifier service (`SWITCHBOARD_NOTIFIER_*`)."""

    notifier_host: str = shared.listen_host("the health and metrics listener")
    notifier_port: int = Field(8005, description="Port of /healthz, /readyz and /metrics.")
    notifier_metrics_port: int | None = shared.metrics_port()
    notifier_metrics_token: MetricsToken | None = shared.metrics_token()
    notifier_group_id: str = Field("switchboard-notifier", description="Kafka consumer group.")
    database_url: str = Field(
        "sqlite:///.run/switchboard-notifier.db",
        description="SQLAlchemy URL of the notifier's tables (postgresql+psycopg://... in "
        "production; may be the router's database: the tables are its own, `notifier_*`).",
    )
    notifier_policy_path: Path | None = shared.unset(
        "YAML notification policy (targets, channels, rules); unset: the shipped one."
    )
    notifier_policy_reload_seconds: float = shared.positive(
        5.0, "How often the policy file is checked for changes."
    )
    notifier_webhook_secret: SecretStr | None = shared.unset(
        "HMAC-SHA256 key that signs every webhook (X-Switchboard-Signature); required by a "
        "policy with a webhook channel."
    )
    notifier_sms_token: SecretStr | None = shared.unset(
        "Bearer token of the SMS gateway; required by a policy with an sms channel."
    )
    notifier_ack_token: SecretStr | None = shared.unset(
        "Bearer token of POST /v1/escalations/{escalation_id}/ack (a pager integration or "
        "on-call tool acknowledging a page); unset: that route answers 503."
    )
    notifier_link_base_url: str = Field(
        "http://localhost:8003/console",
        description="Base of the link a notification carries (<base>/items/<item_id>).",
    )
    notifier_request_timeout_seconds: float = shared.positive(
        10.0, "How long to wait for a channel's answer once the request is sent."
    )
    notifier_connect_timeout_seconds: float = shared.positive(
        3.0, "How long to wait for a connection to a channel (nothing is sent before it)."
    )
    notifier_max_attempts: int = shared.at_least(
        1, 5, "Tries of one send (rate limit, 5xx, refused connection) before it ends failed."
    )
    notifier_retry_backoff_seconds: float = shared.positive(
        2.0, "Wait before the second try of a send; it doubles with each one after."
    )
    notifier_scheduler_interval_seconds: float = shared.positive(
        0.5, "How often the scheduler looks for sends that are due."
    )
    notifier_claim_lease_seconds: float = shared.positive(
        60.0,
        "How long a claimed send is its scheduler's; past it (the scheduler died mid-try) "
        "another may take it. Longer than the request timeout.",
    )
    notifier_claim_batch: int = shared.at_least(
        1, 50, "Most due sends one scheduler pass claims (the others stay for the next)."
    )

    @model_validator(mode="after")
    def _lease_outlasts_a_try(self) -> Self:
        timeout = self.notifier_request_timeout_seconds + self.notifier_connect_timeout_seconds
        if self.notifier_claim_lease_seconds <= timeout:
            raise ValueError(
                f"{env_name('notifier_claim_lease_seconds')}: must be longer than a try "
                f"(request + connect timeout, {timeout:g}s), or a live try could be claimed twice"
            )
        return self

    def check_secrets(self, policy: Policy) -> None:
        """Raise PolicyError naming the setting a policy's channel needs and does not have."""
        configured = policy.channels.configured()
        needs = {
            ChannelKind.WEBHOOK: ("notifier_webhook_secret", self.notifier_webhook_secret),
            ChannelKind.SMS: ("notifier_sms_token", self.notifier_sms_token),
        }
        for kind, (field, value) in needs.items():
            if kind in configured and (value is None or not value.get_secret_value()):
                raise PolicyError(
                    f"channels.{kind.value}: needs {env_name(field)}, which is not set"
                )
