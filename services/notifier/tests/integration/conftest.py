"""Helpers for the notifier's integration tests: the channel stand-ins (HTTP and a real SMTP
server) on loopback, a policy pointing at them, and the notifier's two loops in this event
loop on the real broker and a fresh PostgreSQL database."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from conftest import wait_for
from switchboard_notifier import metrics
from switchboard_notifier.holder import PolicyHolder
from switchboard_notifier.notifier import AcknowledgementConsumer, EscalationConsumer, Scheduler
from switchboard_notifier.settings import NotifierSettings
from switchboard_notifier.store import create_schema
from switchboard_shared.database import make_engine
from switchboard_shared.events import MentionEscalated, Urgency
from switchboard_shared.kafka import encode
from switchboard_shared.topics import ESCALATED
from switchboard_standins.notify import NotifyStandin, SmtpStandin
from switchboard_standins.server import Standin, StandinServer

WEBHOOK_SECRET = "integration-webhook-secret"
SMS_TOKEN = "integration-sms-token"


def policy_text(url: str, smtp_port: int, *, email_after: float = 0) -> str:
    """Every channel at the stand-ins: page duty on webhook, PagerDuty and SMS at once,
    email the deputy `email_after` seconds later."""
    return f"""
version: integration
channels:
  webhook: {{}}
  email: {{host: 127.0.0.1, port: {smtp_port}, from: switchboard@test.example}}
  pagerduty: {{url: "{url}/v2/enqueue"}}
  sms: {{url: "{url}/sms/v1/messages"}}
targets:
  duty-inspector:
    webhook: "{url}/hooks/duty"
    pagerduty: rk-duty
    sms: "+15550100"
  deputy-inspector:
    email: deputy@test.example
rules:
  - name: duty
    match: {{notify: duty-inspector}}
    steps:
      - {{after_seconds: 0, targets: [duty-inspector], channels: [webhook, pagerduty, sms]}}
      - {{after_seconds: {email_after}, targets: [deputy-inspector], channels: [email]}}
"""


@pytest.fixture
def smtp() -> Any:
    server = SmtpStandin()
    server.start()
    yield server
    server.stop()


@pytest.fixture
async def standin(smtp) -> AsyncIterator[StandinServer]:
    """The channels' stand-in on a free loopback port."""
    notify = NotifyStandin(webhook_secret=WEBHOOK_SECRET, sms_token=SMS_TOKEN, smtp=smtp)
    server = StandinServer(Standin(notify=notify))
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
def notifier_settings(kafka_bootstrap, topic_prefix, database_url, standin, smtp, tmp_path):
    """`notifier_settings(email_after=0, **overrides)`: settings on this test's broker and database."""

    def make(*, email_after: float = 0, **overrides: Any) -> NotifierSettings:
        path = tmp_path / "notification.yaml"
        path.write_text(policy_text(standin.url, smtp.port, email_after=email_after))
        values: dict[str, Any] = {
            "kafka_bootstrap_servers": kafka_bootstrap,
            "topic_prefix": topic_prefix,
            "notifier_group_id": f"{topic_prefix}notifier",
            "database_url": database_url,
            "notifier_policy_path": path,
            "notifier_webhook_secret": WEBHOOK_SECRET,
            "notifier_sms_token": SMS_TOKEN,
            "notifier_request_timeout_seconds": 1.0,
            "notifier_connect_timeout_seconds": 1.0,
            "notifier_retry_backoff_seconds": 0.1,
            "notifier_scheduler_interval_seconds": 0.1,
            "notifier_policy_reload_seconds": 0.2,
            **overrides,
        }
        return NotifierSettings(**values)

    return make


class Running:
    def __init__(self, consumer: EscalationConsumer, scheduler: Scheduler) -> None:
        self.consumer = consumer
        self.scheduler = scheduler
        self.engine = consumer.engine


@contextlib.asynccontextmanager
async def running(settings: NotifierSettings) -> AsyncIterator[Running]:
    """The consumer and the scheduler, running until the block ends."""
    engine = make_engine(settings.database_url)
    create_schema(engine)
    metrics.initialise()
    policy = PolicyHolder.load(settings.notifier_policy_path, accept=settings.check_secrets)
    consumer = EscalationConsumer(settings, engine, policy)
    acknowledgements = AcknowledgementConsumer(settings, engine, policy)
    scheduler = Scheduler(settings, engine, policy)
    consumer.start()
    acknowledgements.start()
    scheduler.start()
    try:
        assert await wait_for(consumer.started.is_set, timeout=60), "consumer never connected"
        assert await wait_for(acknowledgements.started.is_set, timeout=60), "acks never connected"
        yield Running(consumer, scheduler)
    finally:
        await scheduler.stop()
        await acknowledgements.stop()
        await consumer.stop()
        engine.dispose()


@pytest.fixture
def run_notifier():
    """`async with run_notifier(settings) as notifier:`"""
    return running


def escalation(**overrides: Any) -> MentionEscalated:
    """An escalation of a fresh item that the test policy pages duty for."""
    values: dict[str, Any] = {
        "mention_id": str(uuid.uuid4()),
        "item_id": uuid.uuid4().int % 1_000_000,
        "queue_id": "patrol-north",
        "urgency": Urgency.CRITICAL,
        "tier": 1,
        "breach": "claim",
        "breached_at": datetime.now(UTC),
        "notify": "duty-inspector",
        **overrides,
    }
    return MentionEscalated(**values)


@pytest.fixture
def make_escalation():
    """`make_escalation(**fields)` -> a MentionEscalated of a fresh item."""
    return escalation


@pytest.fixture
def policy_for():
    """`policy_for(url, smtp_port)` -> the text of the test policy."""
    return policy_text


@pytest.fixture
def publish(raw_producer, topic_prefix):
    """`await publish(escalation_or_bytes)` onto this test's mentions.escalated.v1."""

    async def send(value: MentionEscalated | bytes, *, key: str = "k") -> None:
        if isinstance(value, MentionEscalated):
            key = value.mention_id
            value = encode(value)
        await raw_producer.send_and_wait(ESCALATED.name(topic_prefix), value, key=key.encode())

    return send


@pytest.fixture
def deliveries(standin):
    """`await deliveries()`: what the stand-in's channels received (by_key, mails, ...)."""

    async def read() -> dict[str, Any]:
        async with httpx.AsyncClient() as client:
            return dict((await client.get(f"{standin.url}/_standin/notify/deliveries")).json())

    return read


@pytest.fixture
def fault(standin):
    """`await fault(kind, channel=..., count=...)`: queue a fault on the stand-in."""

    async def add(kind: str, **fields: Any) -> None:
        async with httpx.AsyncClient() as client:
            answer = await client.post(
                f"{standin.url}/_standin/notify/faults", json={"kind": kind, **fields}
            )
            answer.raise_for_status()

    return add
