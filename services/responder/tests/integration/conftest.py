"""Helpers for the responder's integration tests: the platform stand-in on loopback, the
responder in this event loop on the real broker and a fresh PostgreSQL database, and a
way to publish reply requests and read their outcomes."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from conftest import wait_for
from switchboard_responder import metrics
from switchboard_responder.channels import build_channels
from switchboard_responder.ledger import create_schema
from switchboard_responder.responder import Responder
from switchboard_responder.settings import ResponderSettings
from switchboard_shared.database import make_engine
from switchboard_shared.events import ReplyOutcome, ReplyRequested, Source
from switchboard_shared.kafka import encode
from switchboard_shared.topics import REPLIES, REPLY_OUTCOMES
from switchboard_standins.server import Platform, Standin, StandinServer


@pytest.fixture
async def standin() -> AsyncIterator[StandinServer]:
    """The X, Mastodon and Meta stand-in on a free loopback port."""
    server = StandinServer(Standin())
    await server.start()
    yield server
    await server.stop()


def channels_of(server: StandinServer) -> dict[str, dict[str, Any]]:
    """Channels for X, Mastodon and Facebook, all pointing at the stand-in."""
    tokens = server.standin.tokens
    return {
        "x": {"base_url": server.url, "token": tokens[Platform.X]},
        "mastodon": {"base_url": server.url, "token": tokens[Platform.MASTODON], "max_chars": 500},
        "facebook": {"base_url": server.url, "token": tokens[Platform.META]},
    }


@pytest.fixture
def responder_settings(kafka_bootstrap, topic_prefix, database_url, standin):
    """`responder_settings(**overrides)`: settings on this test's broker, topics, group and database."""

    def make(**overrides: Any) -> ResponderSettings:
        values: dict[str, Any] = {
            "kafka_bootstrap_servers": kafka_bootstrap,
            "topic_prefix": topic_prefix,
            "responder_group_id": f"{topic_prefix}responder",
            "database_url": database_url,
            "responder_channels": channels_of(standin),
            "responder_request_timeout_seconds": 1.0,
            "responder_connect_timeout_seconds": 1.0,
            "responder_retry_backoff_seconds": 0.1,
            "responder_auth_retry_seconds": 0.3,
            "kafka_ack_timeout_seconds": 5.0,
            **overrides,
        }
        return ResponderSettings(**values)

    return make


@contextlib.asynccontextmanager
async def running(settings: ResponderSettings) -> AsyncIterator[Responder]:
    """A responder consuming until the block ends."""
    engine = make_engine(settings.database_url)
    create_schema(engine)
    channels = build_channels(settings)
    metrics.initialise(channels=[channel.name for channel in channels.values()])
    responder = Responder(settings, engine, channels)
    responder.start()
    try:
        assert await wait_for(responder.started.is_set, timeout=60), "responder never connected"
        yield responder
    finally:
        await responder.stop()
        engine.dispose()


@pytest.fixture
def run_responder():
    """`async with run_responder(settings) as responder:`"""
    return running


def request_for(source: Source = Source.MASTODON, **overrides: Any) -> ReplyRequested:
    """A reply request with ids of its own."""
    values: dict[str, Any] = {
        "reply_id": f"reply-{uuid.uuid4().hex[:12]}",
        "mention_id": str(uuid.uuid4()),
        "item_id": 1,
        "source": source,
        "in_reply_to": "109876543210",
        "text": f"We have officers on the way ({uuid.uuid4().hex[:6]}).",
        **overrides,
    }
    return ReplyRequested(**values)


@pytest.fixture
def make_request():
    """`make_request(source, **fields)` -> a ReplyRequested with fresh ids."""
    return request_for


@pytest.fixture
def publish(raw_producer, topic_prefix):
    """`await publish(request_or_bytes, key=...)` onto this test's replies.v1."""

    async def send(value: ReplyRequested | bytes, *, key: str | None = None) -> None:
        if isinstance(value, ReplyRequested):
            key = key or value.mention_id
            value = encode(value)
        await raw_producer.send_and_wait(
            REPLIES.name(topic_prefix), value, key=key.encode() if key else None
        )

    return send


@pytest.fixture
def outcomes(topic_reader, topic_prefix):
    """`await outcomes(count, reply_id=None)`: outcomes on this test's topic, in order."""

    async def read(
        count: int, *, reply_id: str | None = None, timeout: float = 30.0
    ) -> list[ReplyOutcome]:
        records = await topic_reader.read(
            REPLY_OUTCOMES.name(topic_prefix), count=count, timeout=timeout
        )
        events = [ReplyOutcome.model_validate_json(r.value) for r in records]
        return [e for e in events if reply_id is None or e.reply_id == reply_id]

    return read


async def until_outcomes(read, reply_id: str, *, final: int = 1, timeout: float = 30.0):
    """Outcomes of `reply_id` once `final` of them are final (or the deadline passed)."""
    import time

    deadline = time.monotonic() + timeout
    found: list[ReplyOutcome] = []
    while time.monotonic() < deadline:
        found = await read(10**6, reply_id=reply_id, timeout=1.0)
        if sum(1 for o in found if o.status.final) >= final:
            break
    return found


@pytest.fixture
def final_outcomes(outcomes):
    """`await final_outcomes(reply_id, final=n)`: every outcome of reply_id once n are final."""

    async def read(reply_id: str, *, final: int = 1, timeout: float = 30.0):
        return await until_outcomes(outcomes, reply_id, final=final, timeout=timeout)

    return read


@pytest.fixture
def standin_control(standin):
    """`await standin_control.fault(kind, platform=..., seconds=..., count=...)`, `.clear()`, `.posts()`."""

    class Control:
        async def fault(self, kind: str, **fields: Any) -> None:
            async with httpx.AsyncClient() as client:
                answer = await client.post(
                    f"{standin.url}/_standin/faults", json={"kind": kind, **fields}
                )
                answer.raise_for_status()

        async def clear(self) -> None:
            async with httpx.AsyncClient() as client:
                (await client.delete(f"{standin.url}/_standin/faults")).raise_for_status()

        async def requests(self) -> dict[str, int]:
            async with httpx.AsyncClient() as client:
                answer = await client.get(f"{standin.url}/_standin/requests")
                return dict(answer.json())

        async def posts(self) -> list[dict[str, Any]]:
            async with httpx.AsyncClient() as client:
                answer = await client.get(f"{standin.url}/_standin/posts")
                return list(answer.json()["posts"])

    return Control()
