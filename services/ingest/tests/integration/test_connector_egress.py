"""Attacks on the pull connectors' outbound HTTP, against stand-in servers on loopback.

The stand-in feed answers at 127.0.0.1 under a public-looking name (an injected
resolver), and the policy lists exactly 127.0.0.1/32 as reachable: it plays a
public host. Everything else on loopback (127.0.0.2, ::1), private ranges and the
metadata address stays forbidden, as it would be for a real public feed. No
Kafka: the connectors submit to an in-memory intake.
"""

import asyncio
import ipaddress
import time
from contextlib import asynccontextmanager

import httpx
import pytest
from aiohttp import web
from prometheus_client import REGISTRY

from conftest import free_port
from switchboard_ingest.connectors.common import Backoff
from switchboard_ingest.connectors.cursor import CursorStore
from switchboard_ingest.connectors.egress import EgressPolicy, EgressRefused, egress_client
from switchboard_ingest.connectors.mastodon import MastodonConnector
from switchboard_ingest.connectors.rss import USER_AGENT, RssConnector
from switchboard_ingest.doors import ConnectorRefusal
from switchboard_ingest.intake import Outcome, Result

PUBLIC_NAME = "feeds.public.example"
STANDIN = ipaddress.ip_network("127.0.0.1/32")
FEED = (
    b"<?xml version='1.0'?><rss version='2.0'><channel><title>Gazette</title>"
    b"<item><title>Bridge closed</title><guid>b-1</guid></item></channel></rss>"
)


class Intake:
    """Takes every mention and dead letter, in memory."""

    def __init__(self) -> None:
        self.accepted: list = []
        self.dead: list = []

    async def submit(self, mention, *, via):
        self.accepted.append(mention)
        return Result(mention_id=mention.mention_id, outcome=Outcome.ACCEPTED)

    async def dead_letter(self, **letter):
        self.dead.append(letter)


class Server:
    """An aiohttp app on `host` and a free port, counting the requests it answers."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port = free_port()
        self.app = web.Application()
        self.requests: list[str] = []
        self.app.middlewares.append(self._count)
        self._runner = web.AppRunner(self.app, shutdown_timeout=0.5)

    @web.middleware
    async def _count(self, request, handler):
        self.requests.append(request.path)
        return await handler(request)

    async def start(self) -> None:
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, self.port).start()

    async def stop(self) -> None:
        await self._runner.cleanup()


@asynccontextmanager
async def serving(*servers: Server):
    for server in servers:
        await server.start()
    try:
        yield
    finally:
        for server in servers:
            await server.stop()


def resolver_for(answers: dict[str, list[str]]):
    calls: list[str] = []

    async def resolve(host: str, port: int) -> list[str]:
        calls.append(host)
        return answers[host]

    resolve.calls = calls  # type: ignore[attr-defined]
    return resolve


def rss(
    tmp_path, policy: EgressPolicy, port: int, resolver=None, path="/feed.xml"
) -> tuple[RssConnector, httpx.AsyncClient, Intake]:
    resolver = resolver or resolver_for({PUBLIC_NAME: ["127.0.0.1"]})
    http = egress_client(
        policy, user_agent=USER_AGENT, timeout=httpx.Timeout(10.0), resolver=resolver
    )
    intake = Intake()
    connector = RssConnector(
        name="rss:egress-test",
        feed_url=f"http://{PUBLIC_NAME}:{port}{path}",
        intake=intake,
        store=CursorStore(tmp_path),
        poll_seconds=1,
        policy=policy,
        http=http,
        kafka_backoff=Backoff(0.001, 0.002),
    )
    return connector, http, intake


def refused(connector: str, reason: ConnectorRefusal) -> float:
    labels = {"connector": connector, "reason": reason.value}
    return REGISTRY.get_sample_value("switchboard_ingest_connector_refused_total", labels) or 0.0


@pytest.mark.parametrize(
    "target",
    [
        "http://127.0.0.2:{inner}/feed.xml",  # loopback, where an internal service listens
        "http://[::ffff:127.0.0.2]:{inner}/feed.xml",  # the same, IPv4-mapped
        "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
        "http://metadata.public.example/computeMetadata/v1/",  # a name for the metadata address
        "http://10.0.0.7/admin",
        "http://[::1]:{inner}/",
    ],
)
async def test_a_feed_redirecting_to_an_internal_address_is_refused(tmp_path, target):
    public, internal = Server("127.0.0.1"), Server("127.0.0.2")
    location = target.format(inner=internal.port)

    async def redirect(request):
        raise web.HTTPFound(location)

    async def secret(request):
        return web.Response(body=FEED, content_type="application/rss+xml")

    public.app.router.add_get("/feed.xml", redirect)
    internal.app.router.add_get("/feed.xml", secret)
    policy = EgressPolicy(allowed_networks=(STANDIN,))
    resolver = resolver_for(
        {PUBLIC_NAME: ["127.0.0.1"], "metadata.public.example": ["169.254.169.254"]}
    )
    connector, http, intake = rss(tmp_path, policy, public.port, resolver)
    async with serving(public, internal), http:
        with pytest.raises(EgressRefused) as caught:
            await asyncio.wait_for(connector.poll_once(http), 20)
    assert caught.value.reason is ConnectorRefusal.FORBIDDEN_ADDRESS
    assert public.requests == ["/feed.xml"]
    assert internal.requests == []  # never reached
    assert intake.accepted == []


async def test_the_same_redirect_is_followed_where_the_policy_allows_the_target(tmp_path):
    # The control for the test above: with 127.0.0.2 allowed, the hop is taken.
    public, internal = Server("127.0.0.1"), Server("127.0.0.2")

    async def redirect(request):
        raise web.HTTPFound(f"http://127.0.0.2:{internal.port}/feed.xml")

    async def feed(request):
        return web.Response(body=FEED, content_type="application/rss+xml")

    public.app.router.add_get("/feed.xml", redirect)
    internal.app.router.add_get("/feed.xml", feed)
    policy = EgressPolicy(allowed_networks=(STANDIN, ipaddress.ip_network("127.0.0.2/32")))
    connector, http, intake = rss(tmp_path, policy, public.port)
    async with serving(public, internal), http:
        await asyncio.wait_for(connector.poll_once(http), 20)
    assert internal.requests == ["/feed.xml"]
    assert [m.source_id for m in intake.accepted] == ["b-1"]


async def test_refusals_are_counted_and_the_connector_keeps_running(tmp_path):
    public = Server()

    async def redirect(request):
        raise web.HTTPFound("http://169.254.169.254/latest/meta-data/")

    public.app.router.add_get("/feed.xml", redirect)
    policy = EgressPolicy(allowed_networks=(STANDIN,))
    connector, http, _ = rss(tmp_path, policy, public.port)
    before = refused(connector.name, ConnectorRefusal.FORBIDDEN_ADDRESS)
    async with serving(public), http:
        task = asyncio.create_task(connector.run())
        deadline = time.monotonic() + 20
        while refused(connector.name, ConnectorRefusal.FORBIDDEN_ADDRESS) == before:
            assert time.monotonic() < deadline, "the refusal was never counted"
            assert not task.done()
            await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_a_name_that_rebinds_is_connected_to_at_the_address_that_was_vetted(tmp_path):
    # The first answer is the allowed one, every later answer internal: a client
    # that resolved again to connect (after checking) would land on 127.0.0.2.
    public, internal = Server("127.0.0.1"), Server("127.0.0.2")

    async def feed(request):
        return web.Response(body=FEED, content_type="application/rss+xml")

    for server in (public, internal):
        server.app.router.add_get("/feed.xml", feed)
    answers = iter([["127.0.0.1"]])

    async def rebinding(host, port):
        return next(answers, ["127.0.0.2"])

    policy = EgressPolicy(allowed_networks=(STANDIN,))
    connector, http, intake = rss(tmp_path, policy, public.port, rebinding)
    async with serving(public, internal), http:
        await connector.poll_once(http)
        # A new connection is vetted anew, and now refused.
        await http.aclose()
        _, http2, _ = rss(tmp_path, policy, public.port, rebinding)
        async with http2:
            with pytest.raises(EgressRefused):
                await connector.poll_once(http2)
    assert public.requests == ["/feed.xml"] and internal.requests == []
    assert [m.source_id for m in intake.accepted] == ["b-1"]


async def test_a_redirect_chain_beyond_the_cap_is_refused(tmp_path):
    public = Server()

    async def hop(request):
        raise web.HTTPFound(f"/hop/{int(request.match_info['n']) + 1}")

    public.app.router.add_get("/hop/{n}", hop)
    policy = EgressPolicy(allowed_networks=(STANDIN,), max_redirects=3)
    connector, http, _ = rss(tmp_path, policy, public.port, path="/hop/0")
    async with serving(public), http:
        with pytest.raises(EgressRefused) as caught:
            await asyncio.wait_for(connector.poll_once(http), 20)
    assert caught.value.reason is ConnectorRefusal.TOO_MANY_REDIRECTS
    assert public.requests == ["/hop/0", "/hop/1", "/hop/2", "/hop/3"]


async def test_a_redirect_loop_and_a_redirect_to_another_scheme_are_refused(tmp_path):
    public = Server()

    async def loop(request):
        raise web.HTTPFound("/loop")

    async def elsewhere(request):
        raise web.HTTPFound("file:///etc/passwd")

    public.app.router.add_get("/loop", loop)
    public.app.router.add_get("/file", elsewhere)
    policy = EgressPolicy(allowed_networks=(STANDIN,))
    looping, http, _ = rss(tmp_path, policy, public.port, path="/loop")
    to_file, _, _ = rss(tmp_path, policy, public.port, path="/file")
    async with serving(public), http:
        with pytest.raises(EgressRefused) as caught:
            await asyncio.wait_for(looping.poll_once(http), 20)
        assert caught.value.reason is ConnectorRefusal.TOO_MANY_REDIRECTS
        assert public.requests.count("/loop") == policy.max_redirects + 1
        with pytest.raises(EgressRefused) as caught:
            await asyncio.wait_for(to_file.poll_once(http), 20)
        assert caught.value.reason is ConnectorRefusal.BAD_REDIRECT


async def test_an_endless_feed_is_cut_off_at_the_cap_without_reading_it_all(tmp_path):
    public = Server()
    sent = {"bytes": 0, "ended": False}

    async def endless(request):
        response = web.StreamResponse(headers={"Content-Type": "application/rss+xml"})
        await response.prepare(request)
        await response.write(b"<?xml version='1.0'?><rss version='2.0'><channel><title>")
        chunk = b"x" * 65536
        try:
            while True:
                await response.write(chunk)
                sent["bytes"] += len(chunk)
        except (ConnectionResetError, ConnectionError, asyncio.CancelledError):
            sent["ended"] = True
            raise
        return response

    async def declared(request):
        return web.Response(body=b"x" * (2 * 1024 * 1024), content_type="application/rss+xml")

    public.app.router.add_get("/feed.xml", endless)
    public.app.router.add_get("/big.xml", declared)
    cap = 1024 * 1024
    policy = EgressPolicy(allowed_networks=(STANDIN,), max_body_bytes=cap)
    connector, http, intake = rss(tmp_path, policy, public.port)
    big, _, _ = rss(tmp_path, policy, public.port, path="/big.xml")
    async with serving(public), http:
        with pytest.raises(EgressRefused) as caught:
            await asyncio.wait_for(connector.poll_once(http), 30)
        assert caught.value.reason is ConnectorRefusal.BODY_TOO_LARGE
        deadline = time.monotonic() + 20
        while not sent["ended"]:
            assert time.monotonic() < deadline, "the connector kept the endless body open"
            await asyncio.sleep(0.05)
        # A declared length beyond the cap is refused before the body is read.
        with pytest.raises(EgressRefused, match="declares"):
            await asyncio.wait_for(big.poll_once(http), 30)
    # What the server got out before the hang-up: the cap plus socket buffers, not "all".
    assert sent["bytes"] < 64 * cap
    assert intake.accepted == []


async def test_a_mastodon_stream_line_of_megabytes_is_refused_without_stalling_the_loop(tmp_path):
    instance = Server()

    async def stream(request):
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await response.write(b"event: update\ndata: ")
        chunk = b"x" * 4096  # small writes: the old decoder's worst case
        while True:  # no newline, ever: 4 MiB and far beyond, until the client hangs up
            await response.write(chunk)

    async def timeline(request):
        return web.json_response([])

    instance.app.router.add_get("/api/v1/streaming/hashtag", stream)
    instance.app.router.add_get("/api/v1/timelines/tag/{tag}", timeline)
    policy = EgressPolicy(allowed_networks=(STANDIN,))  # line cap: 1 MiB
    http = egress_client(
        policy,
        user_agent=USER_AGENT,
        timeout=httpx.Timeout(10.0),
        resolver=resolver_for({"social.public.example": ["127.0.0.1"]}),
    )
    connector = MastodonConnector(
        base_url=f"http://social.public.example:{instance.port}",
        hashtag="riverside",
        intake=Intake(),
        store=CursorStore(tmp_path),
        policy=policy,
        http=http,
    )
    gaps: list[float] = []

    async def ticker():
        last = time.monotonic()
        while True:
            await asyncio.sleep(0.01)
            now = time.monotonic()
            gaps.append(now - last)
            last = now

    ticking = asyncio.create_task(ticker())
    async with serving(instance), http:
        with pytest.raises(EgressRefused) as caught:
            await asyncio.wait_for(connector.follow_once(http), 60)
    ticking.cancel()
    assert caught.value.reason is ConnectorRefusal.LINE_TOO_LONG
    # The loop kept serving other tasks throughout (the finding demands it; the
    # bound is generous for a loaded machine).
    assert gaps and max(gaps) < 0.5
