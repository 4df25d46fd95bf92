"""`GET /v1/stream` keeps to what the caller may see *now*, served in-process on
PostgreSQL: a revoked token ends it, a removed membership stops that queue's
events, and `Last-Event-ID` replays a capped window of items still visible."""

import asyncio
import json
import time
from datetime import UTC, datetime

import httpx
import pytest

from switchboard_router.bootstrap import create_app
from switchboard_router.db.engine import make_engine, migrate
from switchboard_router.items.steps import save_items
from switchboard_router.people import service as people
from switchboard_router.routing.policy import Policy
from switchboard_router.settings import RouterSettings

pytestmark = pytest.mark.postgres

ADMIN_TOKEN = "stream-admin-token"
ADMIN = {"authorization": f"Bearer {ADMIN_TOKEN}"}
REPLAY_MAX = 3


@pytest.fixture
async def served(database_url, port_factory, serving):
    """The router app served in-process (no Kafka) with a replay cap of REPLAY_MAX."""
    engine = make_engine(database_url)
    migrate(engine)
    people.ensure_admin(engine, token=ADMIN_TOKEN, now=datetime.now(UTC))
    settings = RouterSettings(
        database_url=database_url,
        router_stream_poll_seconds=0.1,
        router_stream_replay_max=REPLAY_MAX,
    )
    app = create_app(settings, engine, Policy.load(), consume=False, clock=False)
    async with serving(app, port_factory()) as url:
        yield url, engine
    engine.dispose()


class Stream:
    """One open `GET /v1/stream`: its events so far and whether the server ended it."""

    def __init__(self, url, headers):
        self.url, self.headers = url, headers
        self.events: list[dict] = []
        self.opened = asyncio.Event()
        self.ended = False
        self.task: asyncio.Task | None = None

    async def _read(self):
        url = f"{self.url}/v1/stream"
        async with (
            httpx.AsyncClient(timeout=30) as client,
            client.stream("GET", url, headers=self.headers) as r,
        ):
            assert r.status_code == 200, await r.aread()
            async for line in r.aiter_lines():
                if line.startswith(": stream open"):
                    self.opened.set()
                elif line.startswith("data: "):
                    self.events.append(json.loads(line[6:]))
        self.ended = True

    async def __aenter__(self):
        self.task = asyncio.create_task(self._read())
        await asyncio.wait_for(self.opened.wait(), 10)
        return self

    async def __aexit__(self, *exc):
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)

    async def until(self, predicate, timeout=15.0):
        deadline = time.monotonic() + timeout
        while not predicate(self) and time.monotonic() < deadline:
            if self.task.done():
                self.task.result()  # raise what ended it
                break
            await asyncio.sleep(0.05)
        return predicate(self)

    def mentions(self):
        return [e["mention_id"] for e in self.events]


async def officer_in(url, *queues):
    async with httpx.AsyncClient() as client:
        officer = (
            await client.post(f"{url}/v1/officers", json={"name": "A"}, headers=ADMIN)
        ).json()
        for queue in queues:
            await client.post(f"{url}/v1/queues", json={"queue_id": queue}, headers=ADMIN)
            joined = await client.post(
                f"{url}/v1/queues/{queue}/members",
                json={"officer_id": officer["officer_id"]},
                headers=ADMIN,
            )
            assert joined.status_code == 201, joined.text
        issued = (
            await client.post(f"{url}/v1/officers/{officer['officer_id']}/tokens", headers=ADMIN)
        ).json()
    return officer["officer_id"], issued["token_id"], {"authorization": f"Bearer {issued['token']}"}


def put(engine, make_item, *specs):
    """Store items given as (mention_id, queue); return {mention_id: item_id}."""
    new = [make_item(m, queue=q, minutes=n) for n, (m, q) in enumerate(specs)]
    return {s.mention_id: s.item_id for s in save_items(engine, new_items=new)}


async def put_and_wait(stream, engine, make_item, *specs, seen):
    """Store items (see `put`), then wait until `stream` has shown mention `seen`; whether it did."""
    await asyncio.to_thread(put, engine, make_item, *specs)
    return await stream.until(lambda s: seen in s.mentions())


async def admin_delete(url, path):
    """DELETE `path` as the admin."""
    async with httpx.AsyncClient() as client:
        return await client.delete(f"{url}{path}", headers=ADMIN)


async def test_revoking_the_token_ends_an_open_stream(served, make_item):
    url, engine = served
    officer, token_id, headers = await officer_in(url, "general")
    async with Stream(url, headers) as stream:
        assert await put_and_wait(stream, engine, make_item, ("before", "general"), seen="before")
        revoked = await admin_delete(url, f"/v1/officers/{officer}/tokens/{token_id}")
        assert revoked.status_code == 204
        assert await stream.until(lambda s: s.ended), "the stream kept going after revocation"
    async with httpx.AsyncClient() as client:
        again = await client.get(f"{url}/v1/stream", headers=headers)
    assert again.status_code == 401


async def test_removing_a_membership_stops_that_queues_events(served, make_item):
    url, engine = served
    officer, _, headers = await officer_in(url, "traffic", "general")
    async with Stream(url, headers) as stream:
        assert await put_and_wait(stream, engine, make_item, ("t1", "traffic"), seen="t1")
        removed = await admin_delete(url, f"/v1/queues/traffic/members/{officer}")
        assert removed.status_code == 204
        # Once an event committed after the removal has arrived, the stream has polled
        # since the removal: anything later is filtered by the new memberships.
        assert await put_and_wait(stream, engine, make_item, ("g0", "general"), seen="g0")
        assert await put_and_wait(
            stream, engine, make_item, ("t2", "traffic"), ("g1", "general"), seen="g1"
        )
        assert not stream.ended
    assert stream.mentions() == ["t1", "g0", "g1"]


async def test_last_event_id_zero_replays_at_most_the_cap(served, make_item):
    url, engine = served
    history = [(f"old-{n}", "general") for n in range(REPLAY_MAX + 4)]
    await asyncio.to_thread(put, engine, make_item, *history)
    async with Stream(url, ADMIN | {"last-event-id": "0"}) as stream:
        assert await put_and_wait(
            stream, engine, make_item, ("sentinel", "general"), seen="sentinel"
        )
    replayed = stream.mentions()[: stream.mentions().index("sentinel")]
    assert replayed == [m for m, _ in history[-REPLAY_MAX:]]  # the newest, not all history


async def test_a_replay_never_shows_items_since_moved_to_a_queue_the_caller_cannot_see(
    served, make_item
):
    url, engine = served
    _, _, headers = await officer_in(url, "general")
    ids = await asyncio.to_thread(put, engine, make_item, ("moved", "general"))
    async with httpx.AsyncClient() as client:
        await client.post(
            f"{url}/v1/queues", json={"queue_id": "professional-standards"}, headers=ADMIN
        )
        await client.post(
            f"{url}/v1/queues/professional-standards/members",
            json={"officer_id": "admin"},
            headers=ADMIN,
        )
        moved = await client.post(
            f"{url}/v1/items/{ids['moved']}/transfer",
            json={"queue_id": "professional-standards", "officer_id": "admin"},
            headers=ADMIN,
        )
        assert moved.status_code == 200, moved.text
    async with Stream(url, headers | {"last-event-id": "0"}) as stream:
        assert await put_and_wait(
            stream, engine, make_item, ("sentinel", "general"), seen="sentinel"
        )
    # Before: the old `queued` row of `moved` came with its current status and assignee.
    assert stream.mentions() == ["sentinel"]
