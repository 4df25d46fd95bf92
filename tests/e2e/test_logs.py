"""No service logs a mention's text, its author or a phone number, whatever door it came in by.

Mentions with distinctive texts and handles, valid and invalid, go through the
API, an RSS feed and a Mastodon hashtag (stand-ins on loopback); once the valid
ones are queued and the invalid ones dead-lettered, every service's log is
searched for them.
"""

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from conftest import exposed

pytestmark = [pytest.mark.e2e, pytest.mark.kafka, pytest.mark.postgres]

API_KEY = "e2e-logs-key"
AUTH = {"authorization": f"Bearer {API_KEY}"}
HASHTAG = "larkspur"

# Words no log line has any business containing.
SECRETS = {
    "api text": "Ibis-tambourine 8123 car crash on the ring road",
    "api handle": "ibis_caller_64",
    "api invalid text": "Gecko-harmonica 3391 stuck in the lift",
    "api invalid handle": "gecko_caller_12",
    "api invalid phone": "+1 555 0177",
    "batch invalid text": "Newt-clarinet 5521 smoke in the stairwell",
    "rss text": "Quokka-lantern 4417 smoke over the depot",
    "rss author": "quokka_witness_88",
    "rss invalid author": "quokka_ghost_77",
    "mastodon text": "Heron-saxophone 2291 flooding on Wren Street",
    "mastodon handle": "heron_reporter_31",
    "mastodon invalid text": "Pelican-zither 6613 gas smell near the school",
    "mastodon invalid handle": "pelican_parent_45",
    "mastodon invalid phone": "+1 555 0199",
}

FEED = f"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Larkspur Gazette</title>
<item><title>{SECRETS["rss text"]}</title><guid>e2e-logs-rss-1</guid>
<author>{SECRETS["rss author"]}</author><pubDate>Tue, 01 Dec 2026 09:30:00 GMT</pubDate></item>
<item><guid>e2e-logs-rss-2</guid><author>{SECRETS["rss invalid author"]}</author>
<pubDate>Tue, 01 Dec 2026 09:31:00 GMT</pubDate></item>
</channel></rss>""".encode()

STATUSES = [
    {
        "id": "113600000000000002",
        "created_at": "2026-12-01T09:33:00.000Z",
        "visibility": "public",
        # A content warning that overflows the metadata limit: pydantic's message
        # about it ends with the warning's last words.
        "spoiler_text": "CW " * 3000
        + f"{SECRETS['mastodon invalid text']}, call {SECRETS['mastodon invalid phone']}",
        "content": f"<p>{SECRETS['mastodon invalid text']}</p>",
        "account": {"acct": SECRETS["mastodon invalid handle"]},
    },
    {
        "id": "113600000000000001",
        "created_at": "2026-12-01T09:32:00.000Z",
        "content": f"<p>{SECRETS['mastodon text']} #{HASHTAG}</p>",
        "account": {"acct": SECRETS["mastodon handle"], "display_name": "Heron"},
    },
]


class _Standins(BaseHTTPRequestHandler):
    """An RSS feed and a Mastodon instance (tag timeline, and a stream kept open)."""

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        if url.path == "/feed.xml":
            self._answer(FEED, "application/rss+xml")
        elif url.path == f"/api/v1/timelines/tag/{HASHTAG}":
            min_id = int(parse_qs(url.query).get("min_id", ["0"])[0])
            page = [s for s in STATUSES if int(s["id"]) > min_id]
            self._answer(json.dumps(page).encode(), "application/json")
        elif url.path == "/api/v1/streaming/hashtag":
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            try:
                while not self.server.stopping.is_set():  # type: ignore[attr-defined]
                    self.wfile.write(b":thump\n")
                    self.wfile.flush()
                    self.server.stopping.wait(0.5)  # type: ignore[attr-defined]
            except OSError:
                pass
        else:
            self._answer(b"{}", "application/json", status=404)

    def _answer(self, body: bytes, content_type: str, status: int = 200) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def standins() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Standins)
    server.daemon_threads = True
    server.stopping = threading.Event()  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.stopping.set()  # type: ignore[attr-defined]
    server.shutdown()
    server.server_close()


def _sum(text: str, name: str, **labels: str) -> float:
    return sum(
        value
        for (sample, found), value in exposed(text).items()
        if sample == name and set(labels.items()) <= found
    )


def _wait(what: str, condition, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.3)


def test_no_service_logs_mention_texts_handles_or_phone_numbers(start_services, tmp_path, standins):
    urls, services = start_services(
        api_key=API_KEY,
        admin_token="e2e-logs-admin",
        ingest_env={
            "SWITCHBOARD_INGEST_STATE_DIR": str(tmp_path / "ingest-state"),
            "SWITCHBOARD_INGEST_RSS_FEEDS": json.dumps([f"{standins}/feed.xml"]),
            "SWITCHBOARD_INGEST_RSS_POLL_SECONDS": "5",
            "SWITCHBOARD_INGEST_MASTODON_BASE_URL": standins,
            "SWITCHBOARD_INGEST_MASTODON_HASHTAG": HASHTAG,
            # Exactly the stand-ins' address, nothing else internal.
            "SWITCHBOARD_INGEST_CONNECTOR_ALLOWED_NETWORKS": '["127.0.0.1/32"]',
        },
    )
    ingest = urls["ingest"]
    valid = {
        "source": "sms",
        "source_id": "e2e-logs-api-1",
        "text": SECRETS["api text"],
        "created_at": "2026-12-01T09:34:00Z",
        "author": {"handle": SECRETS["api handle"]},
    }
    invalid = {
        "source": "sms",
        "source_id": "e2e-logs-api-2",
        "text": f"{SECRETS['api invalid text']}, call {SECRETS['api invalid phone']}",
        "created_at": f"yesterday {SECRETS['api invalid phone']}",
        "author": {"handle": SECRETS["api invalid handle"], "follower_count": -1},
    }
    assert httpx.post(f"{ingest}/v1/mentions", json=valid, headers=AUTH).status_code == 202
    assert httpx.post(f"{ingest}/v1/mentions", json=invalid, headers=AUTH).status_code == 422
    batch = {
        "mentions": [
            {
                **valid,
                "source_id": "e2e-logs-api-3",
                "text": SECRETS["batch invalid text"],
                "geo": {"lat": 200, "lon": 0},
            }
        ]
    }
    httpx.post(f"{ingest}/v1/mentions/batch", json=batch, headers=AUTH)

    def settled() -> bool:
        ingest_metrics = httpx.get(f"{ingest}/metrics").text
        router_metrics = httpx.get(f"{urls['router']}/metrics").text
        return (
            _sum(router_metrics, "switchboard_router_queued_total") >= 3
            and _sum(ingest_metrics, "switchboard_ingest_deadlettered_total", source="rss") >= 1
            and _sum(ingest_metrics, "switchboard_ingest_deadlettered_total", source="mastodon")
            >= 1
        )

    _wait("the valid mentions queued and the invalid ones dead-lettered", settled)
    for process in services.values():
        process.stop()  # flushed and closed: the whole log is on disk

    logs = {
        name: process.log_path.read_text(errors="replace") for name, process in services.items()
    }
    assert "record dead-lettered" in logs["ingest"]  # the invalid items were logged about...
    leaks = [
        f"{what} ({secret!r}) in the {name} log"
        for name, text in logs.items()
        for what, secret in SECRETS.items()
        if secret in text
    ]
    assert leaks == []  # ...without what they said or who said it
