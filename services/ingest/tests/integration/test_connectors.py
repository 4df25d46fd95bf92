"""Pull connectors on the real broker: feeds and a hashtag land on the raw topic, once each.

Stand-ins serve the real protocols on loopback (which the connectors refuse
unless told, as here, to allow private networks): an RSS 2.0 feed with ETag
validators, and a Mastodon instance with the SSE hashtag stream and the REST
tag timeline (min_id paging). Restarts share one state directory, the way a
redeployed ingest would.
"""

import asyncio
import collections
import hashlib
import itertools
import json
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from aiohttp import web
from prometheus_client import REGISTRY

from conftest import free_port
from switchboard_ingest.connectors import build_connectors
from switchboard_ingest.intake import Intake
from switchboard_ingest.settings import IngestSettings
from switchboard_shared.events import MentionReceived, Source
from switchboard_shared.topics import RAW

pytestmark = pytest.mark.kafka

TOKEN = "test-token"
BASE_TIME = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


class LoopbackServer:
    """An aiohttp app on 127.0.0.1 and a free port, in the test's event loop."""

    def __init__(self, app: web.Application) -> None:
        self.app = app
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._runner = web.AppRunner(app, shutdown_timeout=1.0)

    async def start(self) -> None:
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        await self._runner.cleanup()


class FeedStandin:
    """An RSS 2.0 feed whose items the test adds; answers 304 to a matching If-None-Match."""

    def __init__(self) -> None:
        self.items: list[tuple[str, str, datetime]] = []
        self.not_modified = 0
        self.user_agents: set[str] = set()
        self.app = web.Application()
        self.app.router.add_get("/feed.xml", self.feed)

    def add(self, guid: str, title: str) -> None:
        self.items.append((guid, title, BASE_TIME + timedelta(minutes=len(self.items))))

    def document(self) -> bytes:
        items = "".join(
            f"<item><title>{title}</title><guid isPermaLink='false'>{guid}</guid>"
            f"<link>https://gazette.example/{guid}</link>"
            f"<description>&lt;p&gt;Story &lt;b&gt;{guid}&lt;/b&gt;&lt;/p&gt;</description>"
            f"<pubDate>{format_datetime(published)}</pubDate></item>"
            for guid, title, published in reversed(self.items)  # newest first, as feeds are
        )
        return (
            "<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel>"
            f"<title>Loopback Gazette</title><link>https://gazette.example/</link>{items}"
            "</channel></rss>"
        ).encode()

    async def feed(self, request: web.Request) -> web.Response:
        self.user_agents.add(request.headers.get("User-Agent", ""))
        body = self.document()
        etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
        if request.headers.get("If-None-Match") == etag:
            self.not_modified += 1
            return web.Response(status=304, headers={"ETag": etag})
        return web.Response(body=body, content_type="application/rss+xml", headers={"ETag": etag})


class MastodonStandin:
    """A Mastodon instance for one hashtag: SSE streaming plus the tag timeline."""

    PAGE_CAP = 3  # smaller than the 40 asked for, so the backfill has to page

    def __init__(self, hashtag: str) -> None:
        self.hashtag = hashtag
        self.statuses: dict[int, dict] = {}
        self.streams: list[asyncio.Queue] = []
        self.connections = 0
        self._ids = itertools.count(113_500_000_000_000_001)
        self.app = web.Application()
        self.app.router.add_get("/api/v1/streaming/hashtag", self.stream)
        self.app.router.add_get("/api/v1/timelines/tag/{tag}", self.timeline)

    def post(self, text: str, *, live: bool = True) -> dict:
        """Publish a status; `live=False` posts it while nobody is listening to the stream."""
        number = next(self._ids)
        status = {
            "id": str(number),
            "created_at": (BASE_TIME + timedelta(seconds=len(self.statuses)))
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "in_reply_to_id": None,
            "sensitive": False,
            "spoiler_text": "",
            "visibility": "public",
            "language": "en",
            "uri": f"https://social.example/users/ana/statuses/{number}",
            "url": f"https://social.example/@ana/{number}",
            "content": f"<p>{text} <a href='https://social.example/tags/{self.hashtag}'>"
            f"#<span>{self.hashtag}</span></a></p>",
            "reblog": None,
            "account": {"acct": "ana", "display_name": "Ana", "followers_count": 10},
            "tags": [{"name": self.hashtag}],
        }
        self.statuses[number] = status
        if live:
            self.broadcast("update", json.dumps(status, indent=1))  # multi-line data
        return status

    def broadcast(self, event: str, data: str) -> None:
        for queue in self.streams:
            queue.put_nowait((event, data))

    def drop_streams(self) -> None:
        for queue in self.streams:
            queue.put_nowait(None)

    def _authorised(self, request: web.Request) -> bool:
        return request.headers.get("Authorization") == f"Bearer {TOKEN}"

    async def stream(self, request: web.Request) -> web.StreamResponse:
        if not self._authorised(request):
            return web.json_response({"error": "unauthorized"}, status=401)
        if request.query.get("tag") != self.hashtag:
            return web.json_response({"error": "unknown tag"}, status=404)
        queue: asyncio.Queue = asyncio.Queue()
        # Subscribed before the headers go out, as Mastodon is: from here nothing is missed.
        self.streams.append(queue)
        self.connections += 1
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store"}
        )
        try:
            await response.prepare(request)
            await response.write(b":)\n")
            while True:
                try:
                    message = await asyncio.wait_for(queue.get(), timeout=0.5)
                except TimeoutError:
                    await response.write(b":thump\n")
                    continue
                if message is None:
                    break
                event, data = message
                lines = "".join(f"data: {line}\n" for line in data.split("\n"))
                await response.write(f"event: {event}\n{lines}\n".encode())
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            self.streams.remove(queue)
        return response

    async def timeline(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return web.json_response({"error": "unauthorized"}, status=401)
        if request.match_info["tag"] != self.hashtag:
            return web.json_response([])
        limit = min(int(request.query.get("limit", "20")), self.PAGE_CAP)
        ordered = sorted(self.statuses)
        if "min_id" in request.query:
            # The statuses immediately newer than min_id...
            chosen = [n for n in ordered if n > int(request.query["min_id"])][:limit]
        else:
            chosen = ordered[-limit:]
        # ...answered newest first, as Mastodon does.
        return web.json_response([self.statuses[n] for n in reversed(chosen)])


async def wait_for(condition, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


class Ingest:
    """One ingest lifetime: a fresh Intake and the connectors built from the settings."""

    def __init__(self, settings: IngestSettings) -> None:
        self.settings = settings
        self.intake = Intake(settings)
        self.tasks: list[asyncio.Task] = []

    async def start(self) -> None:
        self.intake.start()
        deadline = time.monotonic() + 60
        while problems := await self.intake.check():
            if time.monotonic() > deadline:
                pytest.fail(f"intake not ready: {problems}")
            await asyncio.sleep(0.2)
        for connector in build_connectors(self.settings, self.intake):
            self.tasks.append(asyncio.create_task(connector.run(), name=connector.name))

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with pytest.raises(asyncio.CancelledError):
                await task
        await self.intake.stop()


async def raw_mentions(topic_reader, settings, count: int) -> list[MentionReceived]:
    """At least `count` records of the raw topic (fewer if they never come), then quiet."""
    topic = RAW.name(settings.topic_prefix)
    records = await topic_reader.read(topic, count=count, timeout=30)
    if len(records) >= count:
        # Anything beyond the expected count (a repeat) would arrive now.
        records = await topic_reader.read_quiet(topic, settle=2.0)
    events = [MentionReceived.model_validate_json(record.value) for record in records]
    for record, event in zip(records, events, strict=True):
        assert record.key == event.mention_id.encode()
    return events


def duplicates_answered(source: str) -> float:
    """How often intake answered a `source` connector with "duplicate" in this process."""
    labels = {"source": source, "via": source}
    return REGISTRY.get_sample_value("switchboard_ingest_duplicates_total", labels) or 0.0


def once_each(events: list[MentionReceived]) -> collections.Counter:
    return collections.Counter(event.mention.source_id for event in events)


@pytest.fixture
async def feed_server():
    standin = FeedStandin()
    server = LoopbackServer(standin.app)
    await server.start()
    yield standin, f"{server.url}/feed.xml"
    await server.stop()


@pytest.fixture
def connector_settings(broker_settings, tmp_path):
    """`connector_settings(**connector)`: ingest on the test broker with those connector settings."""

    def settings(**connector) -> IngestSettings:
        return broker_settings(
            ingest_state_dir=tmp_path,
            ingest_connector_allow_private_networks=True,  # the stand-ins are on loopback
            **connector,
        )

    return settings


@pytest.fixture
async def mastodon_server():
    standin = MastodonStandin("riverside")
    server = LoopbackServer(standin.app)
    await server.start()
    yield standin, server.url
    standin.drop_streams()
    await server.stop()


async def test_rss_entries_land_once_each_across_a_restart(
    feed_server, connector_settings, topic_reader
):
    standin, feed_url = feed_server
    settings = connector_settings(ingest_rss_feeds=[feed_url], ingest_rss_poll_seconds=1)
    duplicates_before = duplicates_answered("rss")
    for number in range(1, 4):
        standin.add(f"story-{number}", f"Story {number} &amp; more")

    first = Ingest(settings)
    await first.start()
    try:
        events = await raw_mentions(topic_reader, settings, count=3)
        assert once_each(events) == {"story-1": 1, "story-2": 1, "story-3": 1}
        # Unchanged since the last poll: the feed is asked conditionally and answers 304.
        await wait_for(lambda: standin.not_modified >= 1, "a conditional GET answered 304")
    finally:
        await first.stop()

    story = next(e.mention for e in events if e.mention.source_id == "story-2")
    assert story.source is Source.RSS
    assert story.text == "Story 2 & more\n\nStory story-2"
    assert story.created_at == BASE_TIME + timedelta(minutes=1)
    assert story.url == "https://gazette.example/story-2"
    assert story.author is not None and story.author.handle == "Loopback Gazette"
    assert story.metadata == {"feed": feed_url}
    assert all("Switchboard" in agent for agent in standin.user_agents)

    # Published while ingest was down: the new ingest takes exactly these two.
    standin.add("story-4", "Story 4")
    standin.add("story-5", "Story 5")
    second = Ingest(settings)
    await second.start()
    try:
        events = await raw_mentions(topic_reader, settings, count=5)
    finally:
        await second.stop()
    assert once_each(events) == {f"story-{n}": 1 for n in range(1, 6)}
    # The cursor, not intake's duplicate memory, kept the old stories from being resubmitted.
    assert duplicates_answered("rss") == duplicates_before


async def test_mastodon_statuses_land_once_each_across_reconnects_and_restarts(
    mastodon_server, connector_settings, topic_reader
):
    standin, base_url = mastodon_server
    settings = connector_settings(
        ingest_mastodon_base_url=base_url,
        ingest_mastodon_hashtag="riverside",
        ingest_mastodon_access_token=TOKEN,
    )
    duplicates_before = duplicates_answered("mastodon")
    expected = [standin.post("before we ever started", live=False)["id"]]

    first = Ingest(settings)
    await first.start()
    try:
        await wait_for(lambda: standin.streams, "the connector to subscribe")
        expected += [standin.post(f"live {n}")["id"] for n in range(2)]
        standin.broadcast("delete", expected[0])  # other events are ignored
        events = await raw_mentions(topic_reader, settings, count=3)
        assert set(once_each(events)) == set(expected)

        # The stream breaks; what is posted until the reconnect comes from the timeline.
        connections = standin.connections
        standin.drop_streams()
        expected.append(standin.post("while the stream was down", live=False)["id"])
        await wait_for(lambda: standin.connections > connections, "the connector to reconnect")
        await wait_for(lambda: standin.streams, "the connector to resubscribe")
        expected.append(standin.post("live after reconnect")["id"])
        events = await raw_mentions(topic_reader, settings, count=5)
        assert set(once_each(events)) == set(expected)
    finally:
        await first.stop()

    # Posted while ingest was down: more than one timeline page of them.
    expected += [standin.post(f"while ingest was down {n}", live=False)["id"] for n in range(4)]
    second = Ingest(settings)
    await second.start()
    try:
        await wait_for(lambda: standin.streams, "the new connector to subscribe")
        expected.append(standin.post("live after restart")["id"])
        events = await raw_mentions(topic_reader, settings, count=len(expected))
    finally:
        await second.stop()

    assert once_each(events) == {status_id: 1 for status_id in expected}
    # The cursor, not intake's duplicate memory, kept taken statuses from being resubmitted.
    assert duplicates_answered("mastodon") == duplicates_before
    mention = next(e.mention for e in events if e.mention.source_id == expected[1])
    assert mention.source is Source.MASTODON
    assert mention.text == "live 0 #riverside"
    assert mention.url == f"https://social.example/@ana/{expected[1]}"
    assert mention.author is not None and mention.author.handle == "ana"
    assert (mention.author.display_name, mention.author.follower_count) == ("Ana", 10)
    assert mention.language == "en"
    assert mention.created_at.tzinfo is not None
