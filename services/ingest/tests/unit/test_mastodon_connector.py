"""The Mastodon connector without a broker: status mapping, backfill paging, and dead letters that log no personal data."""

import json
import logging
from datetime import UTC, datetime

import httpx
import pytest
from pydantic import ValidationError

from switchboard_ingest.connectors.cursor import CursorStore
from switchboard_ingest.connectors.mastodon import MastodonConnector, status_to_mention
from switchboard_shared.events import Source

STATUS = {
    "id": "113500000000000001",
    "created_at": "2026-12-01T11:15:00.000Z",
    "in_reply_to_id": "113499999999999999",
    "in_reply_to_account_id": None,
    "sensitive": False,
    "spoiler_text": "",
    "visibility": "public",
    "language": "en",
    "uri": "https://social.example/users/ana/statuses/113500000000000001",
    "url": "https://social.example/@ana/113500000000000001",
    "replies_count": 0,
    "reblogs_count": 2,
    "favourites_count": 5,
    "content": '<p>Power is out on <a href="https://social.example/tags/riverside" '
    'class="mention hashtag">#<span>riverside</span></a> &amp; no lights</p>',
    "reblog": None,
    "account": {
        "id": "1",
        "username": "ana",
        "acct": "ana@other.example",
        "display_name": "Ana P.",
        "followers_count": 321,
    },
    "media_attachments": [],
    "mentions": [],
    "tags": [{"name": "riverside"}],
}


def test_mastodon_status_maps_to_a_canonical_mention():
    mention = status_to_mention(STATUS)
    assert mention.source is Source.MASTODON
    assert mention.source_id == "113500000000000001"
    assert mention.text == "Power is out on #riverside & no lights"
    assert mention.created_at == datetime(2026, 12, 1, 11, 15, tzinfo=UTC)
    assert mention.url == STATUS["url"]
    assert mention.author is not None
    assert (mention.author.handle, mention.author.display_name) == ("ana@other.example", "Ana P.")
    assert (mention.author.follower_count, mention.author.verified) == (321, False)
    assert mention.language == "en"
    assert mention.metadata == {
        "in_reply_to_id": "113499999999999999",
        "visibility": "public",
        "sensitive": False,
        "uri": STATUS["uri"],
        "replies_count": 0,
        "reblogs_count": 2,
        "favourites_count": 5,
    }


def test_mastodon_fallbacks_spoiler_uri_language_and_reblog():
    status = {
        **STATUS,
        "content": "",
        "spoiler_text": "CW: fire nearby",
        "url": None,
        "language": "English",
        "reblog": {"id": "99", "content": "<p>original</p>"},
    }
    mention = status_to_mention(status)
    assert mention.text == "CW: fire nearby"
    assert mention.url == STATUS["uri"]
    assert mention.language is None
    assert mention.metadata["reblog"] == "99"
    boost = status_to_mention({**status, "spoiler_text": ""})
    assert boost.text == "original"


def test_mastodon_status_without_text_or_id_cannot_be_a_mention():
    with pytest.raises(ValueError):
        status_to_mention({**STATUS, "content": "<p></p>", "spoiler_text": ""})
    with pytest.raises(ValueError):
        status_to_mention({**STATUS, "id": "not-a-number"})


async def test_mastodon_backfill_pages_by_min_id_in_ascending_order(
    tmp_path, make_intake, fast_retries
):
    ids = [str(113500000000000000 + n) for n in range(1, 6)]
    seen_min_ids: list[str | None] = []

    def timeline(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/api/v1/timelines/tag/riverside"
        assert request.headers["authorization"] == "Bearer sekrit"
        min_id = request.url.params.get("min_id")
        seen_min_ids.append(min_id)
        newer = [i for i in ids if min_id is None or int(i) > int(min_id)][:2]
        return httpx.Response(200, json=[{**STATUS, "id": i} for i in reversed(newer)])

    intake = make_intake()
    store = CursorStore(tmp_path)
    store.save(
        "mastodon https://social.example #riverside",
        {"base_url": "https://social.example", "hashtag": "riverside", "last_id": ids[0]},
    )
    async with httpx.AsyncClient(transport=httpx.MockTransport(timeline)) as http:
        connector = MastodonConnector(
            base_url="https://social.example/",
            hashtag="#riverside",
            intake=intake,
            store=store,
            access_token="sekrit",
            http=http,
            **fast_retries,
        )
        await connector.load_cursor()
        await connector.backfill(http)
    assert [m.source_id for m in intake.accepted] == ids[1:]
    assert seen_min_ids == [ids[0], ids[2], ids[4]]
    assert store.load("mastodon https://social.example #riverside")["last_id"] == ids[4]


PHONE = "+1 555 0134"


SECRET_TEXT = "Marigold-otter fire at 9 Juniper Row"


async def test_an_unmappable_status_is_dead_lettered_and_logged_without_its_text_or_phone(
    tmp_path, caplog, make_intake, fast_retries
):
    # A content warning long enough to overflow the metadata limit: pydantic's
    # message carries the metadata as input_value, whose end is the phone number.
    status = {
        "id": "113500000000000009",
        "created_at": "2026-12-01T11:15:00.000Z",
        "content": f"<p>{SECRET_TEXT}</p>",
        "account": {"acct": "juniper_witness", "display_name": "Juniper W."},
        "visibility": "public",
        "spoiler_text": "CW " * 3000 + f"{SECRET_TEXT}, call {PHONE}",
    }
    with pytest.raises(ValidationError) as caught:
        status_to_mention(status)
    assert PHONE in str(caught.value)  # what used to be logged

    intake = make_intake()
    connector = MastodonConnector(
        base_url="https://social.example",
        hashtag="riverside",
        intake=intake,
        store=CursorStore(tmp_path),
        **fast_retries,
    )
    caplog.set_level(logging.DEBUG)
    await connector._take_streamed(json.dumps(status))
    await connector._take_streamed('{"id": "call ' + PHONE + '", "content": "x"}')
    (metadata_letter, id_letter) = intake.dead
    assert metadata_letter["error"].startswith("invalid mention: metadata: Value error, metadata")
    assert id_letter["error"] == "id: not a numeric status id"
    # The error is what Intake logs; the raw payload goes to the dead-letter topic only.
    logged = caplog.text + " ".join(letter["error"] for letter in intake.dead)
    for secret in (PHONE, SECRET_TEXT, "juniper_witness", "Juniper W."):
        assert secret not in logged
    assert PHONE in metadata_letter["raw"]
