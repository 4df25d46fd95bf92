"""What every pull connector shares, without a broker: HTML to text, bounds, unmappable descriptions, pace, the cursor store, and building connectors from the settings."""

import json
import os

import pytest

from switchboard_ingest.connectors import build_connectors
from switchboard_ingest.connectors.common import Pace, bound_text, describe_unmappable, strip_html
from switchboard_ingest.connectors.cursor import CursorStore
from switchboard_ingest.settings import IngestSettings
from switchboard_shared.events import MAX_TEXT_CHARS
from switchboard_shared.ratelimit import Limit


def test_html_is_stripped_to_readable_text():
    html = (
        '<p>Flooding at <a href="https://x"><span class="invisible">https://</span>'
        '<span class="ellipsis">river.example/lev</span><span class="invisible">els</span></a>'
        "</p><p>Stay &amp; wait<br>inside</p><script>alert(1)</script><style>p{}</style>"
    )
    assert strip_html(html) == "Flooding at https://river.example/levels\nStay & wait\ninside"
    assert strip_html("plain   text &lt;3") == "plain text <3"
    assert strip_html("") == ""


def test_text_is_bounded_with_an_ellipsis():
    assert bound_text("short") == "short"
    cut = bound_text("a" * (MAX_TEXT_CHARS + 50))
    assert len(cut) == MAX_TEXT_CHARS
    assert cut.endswith("…")


def test_cursor_store_round_trip_and_atomic_replace(tmp_path, monkeypatch):
    store = CursorStore(tmp_path / "state")
    assert store.load("rss https://a.example/feed") is None
    store.save("rss https://a.example/feed", {"last_id": "1"})
    store.save("rss https://a.example/feed", {"last_id": "2"})
    assert store.load("rss https://a.example/feed") == {"last_id": "2"}
    assert store.path_for("a/b") != store.path_for("a_b")

    def crash(*args):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError):
        store.save("rss https://a.example/feed", {"last_id": "3"})
    monkeypatch.undo()
    # The failed write left the old cursor whole and no temp file behind.
    assert store.load("rss https://a.example/feed") == {"last_id": "2"}
    assert [p.name for p in (tmp_path / "state").iterdir()] == [
        store.path_for("rss https://a.example/feed").name
    ]


def test_an_unreadable_cursor_is_set_aside_not_fatal(tmp_path):
    store = CursorStore(tmp_path)
    store.path_for("k").write_text("{half")
    assert store.load("k") is None
    assert any(".corrupt-" in p.name for p in tmp_path.iterdir())


def test_build_connectors_follows_the_settings(tmp_path, make_intake):
    settings = IngestSettings(
        ingest_state_dir=tmp_path,
        ingest_rss_feeds=[
            "https://a.example/rss",
            "https://b.example/rss",
            "https://a.example/rss",
        ],
        ingest_mastodon_base_url="https://social.example",
        ingest_mastodon_hashtag="riverside",
    )
    names = [c.name for c in build_connectors(settings, make_intake())]
    assert names == ["rss:a.example", "rss:b.example", "mastodon:riverside"]
    assert build_connectors(IngestSettings(ingest_state_dir=tmp_path), make_intake()) == []


def test_describe_unmappable_names_the_field_never_the_value():
    assert describe_unmappable(KeyError("created_at")) == "created_at: missing"
    try:
        int("555 0134")
    except ValueError as exc:
        assert "555" not in describe_unmappable(exc)
    try:
        json.loads('{"text": "555 0134"')
    except json.JSONDecodeError as exc:
        assert describe_unmappable(exc).startswith("not JSON: ")
        assert "555" not in describe_unmappable(exc)


async def test_a_connectors_pace_holds_items_back_to_its_rate_and_drops_none():
    now = [0.0]
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    pace = Pace(Limit(rate=5, burst=2), connector="rss:pace", clock=lambda: now[0], sleep=sleep)
    for _ in range(12):
        await pace.wait()
    # Two at once, then ten more at five a second: two seconds of waiting, no item skipped.
    assert len(slept) == 10
    assert sum(slept) == pytest.approx(2.0)


def test_build_connectors_gives_each_connector_the_configured_pace(tmp_path, make_intake):
    settings = IngestSettings(
        ingest_allow_open=True,
        ingest_state_dir=tmp_path,
        ingest_rss_feeds=["https://a.example.org/feed", "https://b.example.org/feed"],
        ingest_connector_rate_per_second=3.0,
        ingest_connector_burst=7,
    )
    connectors = build_connectors(settings, make_intake())  # type: ignore[arg-type]
    paces = [c._pace for c in connectors]
    assert all(p is not None for p in paces) and len({id(p) for p in paces}) == 2
    assert {(p._limiter.limit.rate, p._limiter.limit.burst) for p in paces} == {(3.0, 7)}
