"""The stack on a broker that only speaks SASL_SSL (SCRAM-SHA-512 over TLS), as in production.

The broker is deploy/local/kafka.sh's secured mode: a throwaway CA signs its
certificate, and its one client listener takes SCRAM users only. Ingest,
classifier and router run as processes with the SWITCHBOARD_KAFKA_* security
settings and carry a mention to its queue. The attacks: a client with a wrong
password, a client without TLS or SASL, and a client that does not trust the
cluster's CA all get nothing from the broker, and no service logs the password.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from conftest import OwnBroker, find_item
from switchboard_shared.kafka import client_options
from switchboard_shared.settings import KafkaSettings
from switchboard_shared.topics import RAW

pytestmark = [pytest.mark.e2e, pytest.mark.kafka, pytest.mark.postgres]

API_KEY = "secured-e2e-key"
ADMIN_TOKEN = "secured-e2e-admin"
USER = "switchboard"


class SecuredBroker:
    """A broker of deploy/local/kafka.sh in KAFKA_SECURITY=sasl_ssl mode, owned by one test."""

    def __init__(self, data_dir: Path) -> None:
        self.password = secrets.token_hex(16)
        self.broker = OwnBroker(data_dir)
        self.broker.env.update(
            KAFKA_SECURITY="sasl_ssl", KAFKA_SCRAM_USERS=f"{USER}={self.password}"
        )
        self.ca_file = data_dir / "tls" / "ca.crt"

    @property
    def bootstrap(self) -> str:
        return self.broker.bootstrap

    def env(self, *, password: str | None = None) -> dict[str, str]:
        """SWITCHBOARD_KAFKA_* settings that reach this broker (with `password` if given)."""
        return {
            "SWITCHBOARD_KAFKA_BOOTSTRAP_SERVERS": self.bootstrap,
            "SWITCHBOARD_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
            "SWITCHBOARD_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
            "SWITCHBOARD_KAFKA_SASL_USERNAME": USER,
            "SWITCHBOARD_KAFKA_SASL_PASSWORD": password or self.password,
            "SWITCHBOARD_KAFKA_SSL_CAFILE": str(self.ca_file),
        }

    def settings(self, **overrides: Any) -> KafkaSettings:
        fields = {
            "kafka_bootstrap_servers": self.bootstrap,
            "kafka_security_protocol": "SASL_SSL",
            "kafka_sasl_username": USER,
            "kafka_sasl_password": self.password,
            "kafka_ssl_cafile": self.ca_file,
        }
        return KafkaSettings(**{**fields, **overrides})


@pytest.fixture
def secured_broker(tmp_path: Path) -> Iterator[SecuredBroker]:
    broker = SecuredBroker(tmp_path / "kafka")
    broker.broker.run("start")
    try:
        yield broker
    finally:
        broker.broker.run("clean")


async def lists_topics(options: dict[str, Any]) -> list[str]:
    """The topic names, through an admin client made with these options; raises when refused."""
    admin = AIOKafkaAdminClient(**options, client_id="attacker", request_timeout_ms=5000)
    try:
        await asyncio.wait_for(admin.start(), 15)
        return list(await asyncio.wait_for(admin.list_topics(), 10))
    finally:
        await admin.close()


async def read_values(options: dict[str, Any], topic: str, *, count: int) -> list[bytes]:
    """Values of `topic` read from the start until `count` came (or 30 s passed)."""
    consumer = AIOKafkaConsumer(
        topic, **options, group_id=None, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await asyncio.wait_for(consumer.start(), 15)
    values: list[bytes] = []
    deadline = time.monotonic() + 30
    try:
        while len(values) < count and time.monotonic() < deadline:
            for records in (await consumer.getmany(timeout_ms=300)).values():
                values.extend(record.value for record in records)
    finally:
        await consumer.stop()
    return values


def refused(options: dict[str, Any]) -> bool:
    """True when the broker gives this client nothing."""
    try:
        asyncio.run(lists_topics(options))
    except (KafkaError, OSError, TimeoutError):
        return True
    return False


def test_the_stack_runs_over_sasl_ssl_and_the_broker_refuses_everyone_else(
    secured_broker, topic_prefix, start_services
):
    urls, services = start_services(
        kafka_bootstrap=secured_broker.bootstrap,
        api_key=API_KEY,
        admin_token=ADMIN_TOKEN,
        kafka_env=secured_broker.env(),
    )
    mention = {
        "source": "x",
        "source_id": "secured-1",
        "text": "shots fired outside the Shell on 5th and Main, people running",
        "created_at": "2026-11-29T22:00:00Z",
    }
    answer = httpx.post(
        f"{urls['ingest']}/v1/mentions",
        json=mention,
        headers={"authorization": f"Bearer {API_KEY}"},
    )
    assert answer.status_code == 202, answer.text
    mention_id = answer.json()["mention_id"]
    item = find_item(urls["router"], "emergency", mention_id, token=ADMIN_TOKEN)
    assert item is not None, services["router"].log_tail() + services["classifier"].log_tail()
    assert item["urgency"] == "critical"

    # The right user over TLS reads the raw topic: the mention travelled this way.
    raw = RAW.name(topic_prefix)
    good = client_options(secured_broker.settings())
    assert any(
        mention_id.encode() in value for value in asyncio.run(read_values(good, raw, count=1))
    )

    # A wrong password, no TLS and no SASL, or TLS without the cluster's CA: refused.
    wrong = client_options(secured_broker.settings(kafka_sasl_password="guessed-password"))
    assert refused(wrong)
    assert refused({"bootstrap_servers": secured_broker.bootstrap})
    untrusted = client_options(secured_broker.settings(kafka_ssl_cafile=None))  # system CAs
    assert refused(untrusted)

    for service in services.values():
        assert secured_broker.password not in service.log_path.read_text(errors="replace")


def test_a_service_with_a_wrong_password_never_becomes_ready(
    secured_broker, topic_prefix, port_factory, service_runner
):
    port = port_factory()
    ingest = service_runner(
        "switchboard_ingest",
        {
            **secured_broker.env(password="not-the-password"),
            "SWITCHBOARD_TOPIC_PREFIX": topic_prefix,
            "SWITCHBOARD_INGEST_PORT": str(port),
            # Only Kafka's refusal is under test here, not who may post.
            "SWITCHBOARD_INGEST_ALLOW_OPEN": "true",
        },
    )
    ingest.wait_ready(f"http://127.0.0.1:{port}/healthz")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        assert httpx.get(f"http://127.0.0.1:{port}/readyz").status_code == 503
        time.sleep(0.5)
    log = ingest.log_path.read_text(errors="replace")
    assert "SaslAuthenticationFailed" in log or "Authentication failed" in log, ingest.log_tail()
    assert "not-the-password" not in log
