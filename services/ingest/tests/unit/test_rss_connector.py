"""The RSS/Atom connector without a broker: entry mapping and order, names, its cursor, retries, conditional polls, pace and hostile XML."""

import asyncio
import io
import json
from datetime import UTC, datetime

import feedparser
import httpx
import pytest

from switchboard_ingest import metrics
from switchboard_ingest.connectors.cursor import CursorStore
from switchboard_ingest.connectors.rss import (
    MAX_REMEMBERED_IDS,
    USER_AGENT,
    FeedCursor,
    RssConnector,
    entry_source_id,
    entry_to_mention,
    oldest_first,
    rss_connector_names,
)
from switchboard_shared.events import Source
from switchboard_shared.ratelimit import Limit

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


FEED_URL = "https://news.example.org/feed.xml"


RSS_DOC = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel>
  <title>Riverside Gazette</title>
  <link>https://news.example.org/</link>
  <item>
    <title>Water main burst on Elm &amp; 3rd</title>
    <link>https://news.example.org/elm</link>
    <guid isPermaLink="false">gazette-2</guid>
    <description>&lt;p&gt;Crews are &lt;b&gt;on site&lt;/b&gt;.&lt;/p&gt;&lt;p&gt;Avoid the area.&lt;/p&gt;</description>
    <pubDate>Tue, 01 Dec 2026 09:30:00 -0500</pubDate>
    <author>desk@example.org (News Desk)</author>
  </item>
  <item>
    <title>Council meeting moved</title>
    <link>https://news.example.org/council</link>
    <guid>gazette-1</guid>
    <description>Now on Thursday.</description>
    <pubDate>Mon, 30 Nov 2026 18:00:00 GMT</pubDate>
  </item>
  <item>
    <title>Undated note</title>
    <description>No guid, no link.</description>
  </item>
</channel></rss>"""


ATOM_DOC = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <title>City Alerts</title>
  <id>urn:city:alerts</id>
  <updated>2026-12-01T10:00:00+01:00</updated>
  <entry>
    <title type="html">Road closed &lt;em&gt;until noon&lt;/em&gt;</title>
    <id>urn:city:alerts:42</id>
    <link href="https://city.example/alerts/42"/>
    <updated>2026-12-01T10:00:00+01:00</updated>
    <author><name>Traffic Office</name></author>
    <content type="html">&lt;div&gt;Bridge St closed.&lt;script&gt;track()&lt;/script&gt;&lt;/div&gt;</content>
  </entry>
</feed>"""


def parse(document: bytes):
    return feedparser.parse(io.BytesIO(document))


def test_rss_entries_map_to_canonical_mentions_oldest_first():
    parsed = parse(RSS_DOC)
    entries = oldest_first(parsed.entries)
    # Not every entry is dated, so document order reversed is the order written.
    assert [entry.get("title") for entry in entries] == [
        "Undated note",
        "Council meeting moved",
        "Water main burst on Elm & 3rd",
    ]
    title = parsed.feed.title
    burst = entry_to_mention(entries[2], feed_url=FEED_URL, feed_title=title, now=NOW)
    assert burst.source is Source.RSS
    assert burst.source_id == "gazette-2"
    assert burst.text == "Water main burst on Elm & 3rd\n\nCrews are on site.\nAvoid the area."
    assert burst.created_at == datetime(2026, 12, 1, 14, 30, tzinfo=UTC)
    assert burst.url == "https://news.example.org/elm"
    assert burst.author is not None and "News Desk" in burst.author.handle
    assert burst.metadata == {"feed": FEED_URL}

    council = entry_to_mention(entries[1], feed_url=FEED_URL, feed_title=title, now=NOW)
    assert council.author is not None and council.author.handle == "Riverside Gazette"
    assert council.created_at == datetime(2026, 11, 30, 18, 0, tzinfo=UTC)

    undated = entry_to_mention(entries[0], feed_url=FEED_URL, feed_title=title, now=NOW)
    assert undated.created_at == NOW
    assert undated.url is None
    assert undated.source_id.startswith("sha256:")
    # The fallback id is stable: the same entry always gets the same mention id.
    assert entry_source_id(entries[0]) == undated.source_id


def test_dated_entries_are_ordered_by_date():
    parsed = parse(RSS_DOC.replace(b"<item>\n    <title>Undated note", b"<skip><title>x"))
    dated = [entry for entry in parsed.entries if entry.get("published_parsed")]
    assert [entry.id for entry in oldest_first(dated)] == ["gazette-1", "gazette-2"]


def test_atom_entry_maps_with_content_author_and_utc_time():
    parsed = parse(ATOM_DOC)
    (entry,) = parsed.entries
    mention = entry_to_mention(entry, feed_url=FEED_URL, feed_title=parsed.feed.title, now=NOW)
    assert mention.source_id == "urn:city:alerts:42"
    assert mention.text == "Road closed until noon\n\nBridge St closed."
    assert mention.created_at == datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    assert mention.url == "https://city.example/alerts/42"
    assert mention.author is not None and mention.author.handle == "Traffic Office"


def test_an_entry_without_any_text_cannot_be_a_mention():
    entry = feedparser.FeedParserDict(id="x", link="https://x.example")
    with pytest.raises(ValueError):
        entry_to_mention(entry, feed_url=FEED_URL, feed_title=None, now=NOW)


def test_rss_connector_names_are_unique_per_feed():
    names = rss_connector_names(
        ["https://a.example/rss", "https://b.example/feed", "https://a.example/atom"]
    )
    assert names[1] == "rss:b.example"
    assert names[0].startswith("rss:a.example:") and names[2].startswith("rss:a.example:")
    assert len(set(names)) == 3


def test_feed_cursor_round_trips_and_stays_bounded():
    cursor = FeedCursor(feed_url=FEED_URL, etag='"v1"', modified="Tue, 01 Dec 2026 10:00:00 GMT")
    for number in range(MAX_REMEMBERED_IDS + 10):
        cursor.remember(f"id-{number}")
    again = FeedCursor.from_json(FEED_URL, json.loads(json.dumps(cursor.to_json())))
    assert (again.etag, again.modified) == ('"v1"', "Tue, 01 Dec 2026 10:00:00 GMT")
    assert len(again.answered) == MAX_REMEMBERED_IDS
    assert "id-0" not in again.answered and f"id-{MAX_REMEMBERED_IDS + 9}" in again.answered
    # A cursor saved for another feed is not this feed's.
    assert FeedCursor.from_json("https://other.example/", cursor.to_json()).answered == {}


def feed_connector(intake, store, http, fast_retries) -> RssConnector:
    """The connector of FEED_URL, polled by hand through `http`."""
    return RssConnector(
        name="rss:test",
        feed_url=FEED_URL,
        intake=intake,
        store=store,
        poll_seconds=1,
        http=http,
        **fast_retries,
    )


async def test_rss_connector_retries_the_same_entry_and_polls_conditionally(
    tmp_path, make_intake, fast_retries
):
    requests: list[httpx.Request] = []

    def feed(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        if request.headers.get("if-none-match") == '"v1"':
            return httpx.Response(304)
        return httpx.Response(200, content=RSS_DOC, headers={"ETag": '"v1"'})

    intake = make_intake(refusals=2)
    store = CursorStore(tmp_path)
    async with httpx.AsyncClient(transport=httpx.MockTransport(feed)) as http:
        connector = feed_connector(intake, store, http, fast_retries)
        await connector.load_cursor()
        await connector.poll_once(http)
        await connector.poll_once(http)
    first = entry_source_id(oldest_first(parse(RSS_DOC).entries)[0])
    # Refused twice, the oldest entry was retried, never skipped.
    assert intake.attempts[:3] == [first, first, first]
    assert [m.source_id for m in intake.accepted] == [first, "gazette-1", "gazette-2"]
    assert requests[0].headers["user-agent"] == USER_AGENT
    assert requests[1].headers["if-none-match"] == '"v1"'
    saved = store.load(f"rss {FEED_URL}")
    assert saved["etag"] == '"v1"' and saved["answered"] == [first, "gazette-1", "gazette-2"]


async def test_rss_cursor_never_moves_past_an_unanswered_entry(tmp_path, make_intake, fast_retries):
    intake = make_intake(refusals=10**6)  # Kafka never comes back
    store = CursorStore(tmp_path)
    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=RSS_DOC))
    async with httpx.AsyncClient(transport=transport) as http:
        connector = feed_connector(intake, store, http, fast_retries)
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.3):
                await connector.poll_once(http)
    assert len(intake.attempts) > 3 and len(set(intake.attempts)) == 1
    assert store.load(f"rss {FEED_URL}") is None


def test_feed_xml_never_expands_external_or_nested_entities(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-MARKER")
    xxe = f"""<?xml version="1.0"?>
<!DOCTYPE rss [<!ENTITY xxe SYSTEM "file://{secret}">]>
<rss version="2.0"><channel><title>t</title>
<item><title>leak &xxe;</title><guid>1</guid><description>&xxe;</description></item>
</channel></rss>""".encode()
    parsed = feedparser.parse(io.BytesIO(xxe))
    assert "TOP-SECRET-MARKER" not in json.dumps(parsed, default=str)

    laughs = "".join(f'<!ENTITY lol{n} "{("&lol" + str(n - 1) + ";") * 10}">' for n in range(1, 10))
    bomb = f"""<?xml version="1.0"?>
<!DOCTYPE rss [<!ENTITY lol0 "lol">{laughs}]>
<rss version="2.0"><channel><title>t</title>
<item><title>&lol9;</title><guid>2</guid></item></channel></rss>""".encode()
    parsed = feedparser.parse(io.BytesIO(bomb))
    # 10**9 "lol"s had the entities been expanded; feedparser drops non-literal ones.
    assert len(json.dumps(parsed, default=str)) < 100_000


async def test_a_loud_feed_is_paced_not_dropped(tmp_path, make_intake, fast_retries):
    entries = "".join(
        f"<item><guid>loud-{n}</guid><title>Item {n}</title><description>Road closed {n}"
        "</description></item>"
        for n in range(8)
    )
    doc = f'<?xml version="1.0"?><rss version="2.0"><channel><title>Loud</title>{entries}'
    doc += "</channel></rss>"
    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=doc.encode()))
    intake = make_intake()
    throttled = metrics.CONNECTOR_THROTTLED.labels("rss:loud")
    before = throttled._value.get()
    async with httpx.AsyncClient(transport=transport) as http:
        connector = RssConnector(
            name="rss:loud",
            feed_url=FEED_URL,
            intake=intake,
            store=CursorStore(tmp_path),
            poll_seconds=1,
            http=http,
            # 4 a second: a token every 250 ms, far longer than handling an item even on a
            # loaded machine, so the five past the burst wait (at 20/s, a slow run refilled
            # tokens while it worked and fewer waited).
            pace=Limit(rate=4, burst=3),
            **fast_retries,
        )
        await connector.load_cursor()
        await connector.poll_once(http)
    assert sorted(m.source_id for m in intake.accepted) == sorted(f"loud-{n}" for n in range(8))
    assert throttled._value.get() - before >= 3  # items beyond the burst waited their turn
