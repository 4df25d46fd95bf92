"""Helpers for the router's integration tests: a migrated store, an app with an
admin, officers with tokens, and items put straight into the store."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
import uvicorn
from fastapi.testclient import TestClient

from switchboard_router.bootstrap import create_app
from switchboard_router.db.engine import make_engine, migrate
from switchboard_router.items.steps import NewItem, save_items
from switchboard_router.people import service as people
from switchboard_router.routing.policy import Policy
from switchboard_router.settings import RouterSettings

ADMIN_TOKEN = "admin-test-token"
ADMIN = {"authorization": f"Bearer {ADMIN_TOKEN}"}
T0 = datetime(2026, 11, 29, 22, 0, tzinfo=UTC)


def new_item(mention_id, *, queue="general", urgency="normal", rank=2, minutes=0, sla_due_at=None):
    return NewItem(
        mention_id=mention_id,
        queue_id=queue,
        urgency=urgency,
        urgency_rank=rank,
        score=0.6,
        topics=["traffic"],
        reasons=[{"rule": "topics.traffic", "label": "traffic", "matched": ["crash on"]}],
        rule="traffic",
        ruleset_version="r1",
        policy_version="p1",
        source="x",
        source_id=mention_id,
        text=f"text of {mention_id}",
        mention={"source": "x"},
        received_at=T0 + timedelta(minutes=minutes),
        classified_at=T0 + timedelta(minutes=minutes, seconds=1),
        priority_rank=rank,
        sla_due_at=sla_due_at,
    )


@pytest.fixture
def engine(database_url):
    engine = make_engine(database_url)
    migrate(engine)
    people.ensure_admin(engine, token=ADMIN_TOKEN, now=datetime.now(UTC))
    yield engine
    engine.dispose()


@pytest.fixture
def client(engine):
    settings = RouterSettings(database_url=str(engine.url))
    app = create_app(settings, engine, Policy.load(), consume=False, clock=False)
    with TestClient(app) as client:
        yield client


def _add_officer(client, queues, *, role="officer", on_duty=False, capacity=5):
    """Create an officer in `queues` (created if missing); return (id, auth headers)."""
    answer = client.post(
        "/v1/officers",
        json={
            "name": f"{role} of {queues}",
            "role": role,
            "on_duty": on_duty,
            "capacity": capacity,
        },
        headers=ADMIN,
    )
    assert answer.status_code == 201, answer.text
    officer_id = answer.json()["officer_id"]
    for queue in queues:
        client.post("/v1/queues", json={"queue_id": queue}, headers=ADMIN)
        joined = client.post(
            f"/v1/queues/{queue}/members", json={"officer_id": officer_id}, headers=ADMIN
        )
        assert joined.status_code == 201, joined.text
    token = client.post(f"/v1/officers/{officer_id}/tokens", headers=ADMIN).json()["token"]
    return officer_id, {"authorization": f"Bearer {token}"}


def _put_items(engine, *items):
    """Store items; return their ids by mention id."""
    return {s.mention_id: s.item_id for s in save_items(engine, new_items=list(items))}


@pytest.fixture
def admin_headers():
    """Headers of the bootstrap admin."""
    return dict(ADMIN)


@pytest.fixture
def add_officer():
    """`add_officer(client, queues, role=..., on_duty=..., capacity=...)` -> (id, headers)."""
    return _add_officer


@pytest.fixture
def put_items():
    """`put_items(engine, *new_items)` -> {mention_id: item_id}."""
    return _put_items


@pytest.fixture
def make_item():
    """`make_item(mention_id, queue=..., urgency=..., rank=..., minutes=...)` -> NewItem."""
    return new_item


@contextlib.asynccontextmanager
async def _serving(app, port: int) -> AsyncIterator[str]:
    """`app` served by uvicorn on 127.0.0.1:`port` for the block (long-lived streams need a
    real server, not TestClient); yields its base URL."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None))
    task = asyncio.create_task(server.serve())
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@pytest.fixture
def serving():
    """`async with serving(app, port) as url:` the app served in-process on a real socket."""
    return _serving
