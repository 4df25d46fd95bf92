"""The router's event stream as it runs: real PostgreSQL, the app on an in-process server."""

import asyncio
import json
from datetime import UTC, datetime

import httpx
import pytest

from switchboard_router.bootstrap import create_app
from switchboard_router.db.engine import make_engine, migrate
from switchboard_router.items.steps import save_items
from switchboard_router.people import service as people
from switchboard_router.routing.policy import Policy
from switchboard_router.settings import RouterSettings

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

ADMIN_TOKEN = "live-admin-token"
ADMIN = {"authorization": f"Bearer {ADMIN_TOKEN}"}


@pytest.fixture
async def served(database_url, port_factory, serving):
    """The router app served in-process (no Kafka), with an admin."""
    engine = make_engine(database_url)
    migrate(engine)
    people.ensure_admin(engine, token=ADMIN_TOKEN, now=datetime.now(UTC))
    settings = RouterSettings(database_url=database_url, router_stream_poll_seconds=0.1)
    app = create_app(settings, engine, Policy.load(), consume=False, clock=False)
    async with serving(app, port_factory()) as url:
        yield url, engine
    engine.dispose()


async def read_stream(url, headers, *, until, timeout=15.0):
    """Events from /v1/stream until `until(events)` holds or the deadline passes."""
    events = []
    async with httpx.AsyncClient(timeout=timeout) as client:
        try:
            async with asyncio.timeout(timeout):
                async with client.stream("GET", f"{url}/v1/stream", headers=headers) as response:
                    assert response.status_code == 200
                    assert response.headers["content-type"].startswith("text/event-stream")
                    async for line in response.aiter_lines():
                        if line.startswith("data: "):
                            events.append(json.loads(line[6:]))
                            if until(events):
                                break
        except TimeoutError:
            pass
    return events


async def test_the_stream_shows_an_officer_only_their_queues_items(served, make_item):
    url, engine = served
    async with httpx.AsyncClient() as client:
        officer = (
            await client.post(f"{url}/v1/officers", json={"name": "A"}, headers=ADMIN)
        ).json()
        for queue in ("traffic", "general"):
            await client.post(f"{url}/v1/queues", json={"queue_id": queue}, headers=ADMIN)
        await client.post(
            f"{url}/v1/queues/traffic/members",
            json={"officer_id": officer["officer_id"]},
            headers=ADMIN,
        )
        token = (
            await client.post(f"{url}/v1/officers/{officer['officer_id']}/tokens", headers=ADMIN)
        ).json()
    headers = {"authorization": f"Bearer {token['token']}"}

    async def feed():
        await asyncio.sleep(0.5)  # the stream starts at "now": give it time to open
        await asyncio.to_thread(
            save_items,
            engine,
            new_items=[
                make_item("secret", queue="general"),
                make_item("mine", queue="traffic", minutes=1),
            ],
        )

    feeder = asyncio.create_task(feed())
    mine = await read_stream(
        url, headers, until=lambda ev: any(e["mention_id"] == "mine" for e in ev)
    )
    everything = await read_stream(
        url, ADMIN | {"last-event-id": "0"}, until=lambda ev: len(ev) >= 2
    )
    await feeder
    assert [e["mention_id"] for e in mine] == ["mine"]
    assert {e["mention_id"] for e in everything} == {"secret", "mine"}
    assert {e["action"] for e in everything} == {"queued"}
