"""Platform payloads to canonical mentions, and the platforms' signatures, without HTTP or Kafka."""

import base64
import copy
import hashlib
import hmac
import json
from datetime import UTC, datetime

import pytest

from switchboard_ingest import platforms
from switchboard_shared.events import MAX_TEXT_CHARS, Source

# Shaped like X's account-activity deliveries (v1.1 tweet objects).
TWEET = {
    "created_at": "Wed Oct 10 20:19:24 +0000 2018",
    "id": 1050118621198921728,
    "id_str": "1050118621198921728",
    "text": "Water main burst on Elm St, the whole block is flooding…",
    "truncated": True,
    "extended_tweet": {
        "full_text": "Water main burst on Elm St, the whole block is flooding and "
        "the school bus can't get through https://t.co/abc",
        "entities": {"urls": [{"url": "https://t.co/abc", "expanded_url": "https://n.example/1"}]},
        "extended_entities": {
            "media": [{"type": "photo", "media_url_https": "https://pbs.twimg.com/media/a.jpg"}]
        },
    },
    "user": {
        "id_str": "6253282",
        "screen_name": "maria_g",
        "name": "Maria G",
        "followers_count": 1204,
        "verified": True,
    },
    "in_reply_to_status_id_str": "1050118000000000000",
    "quoted_status_id_str": "1050117000000000000",
    "lang": "en",
    "coordinates": {"type": "Point", "coordinates": [-122.41, 37.77]},
    "place": {"full_name": "San Francisco, CA"},
}
RETWEET = {
    "created_at": "Thu Oct 11 08:00:00 +0200 2018",
    "id_str": "1050300000000000000",
    "text": "RT @maria_g: Water main burst on Elm St",
    "user": {"screen_name": "bob", "name": "Bob"},
    "retweeted_status": {"id_str": "1050118621198921728"},
    "lang": "und",
    "coordinates": None,
}
X_PAYLOAD = {
    "for_user_id": "2244994945",
    "tweet_create_events": [TWEET, RETWEET],
    "favorite_events": [{"id": "a"}, {"id": "b"}],
    "follow_events": [{"type": "follow"}],
}

FACEBOOK_PAYLOAD = {
    "object": "page",
    "entry": [
        {
            "id": "104411111111111",
            "time": 1764453600,
            "changes": [
                {
                    "field": "feed",
                    "value": {
                        "item": "comment",
                        "verb": "add",
                        "post_id": "104411111111111_222",
                        "comment_id": "222_333",
                        "parent_id": "104411111111111_222",
                        "message": "Power has been out on Oak Ave since noon",
                        "from": {"id": "5550001", "name": "Dana Whitfield"},
                        "created_time": 1764453000,
                    },
                },
                {
                    "field": "feed",
                    "value": {
                        "item": "post",
                        "verb": "add",
                        "post_id": "104411111111111_444",
                        "message": "Is the bridge closed?",
                        "from": {"id": "5550002", "name": "Lee"},
                    },
                },
                {"field": "feed", "value": {"item": "reaction", "verb": "add", "post_id": "1_2"}},
                {"field": "feed", "value": {"item": "comment", "verb": "remove", "post_id": "1_2"}},
            ],
        }
    ],
}
INSTAGRAM_PAYLOAD = {
    "object": "instagram",
    "entry": [
        {
            "id": "17841400000000000",
            "time": 1764453600,
            "changes": [
                {
                    "field": "comments",
                    "value": {
                        "id": "17865799348089039",
                        "text": "There's a fire behind the mall",
                        "from": {"id": "1789000", "username": "jo.on.main"},
                        "media": {"id": "17887498072083520", "media_product_type": "FEED"},
                    },
                },
                {"field": "story_insights", "value": {"media_id": "1", "reach": 4}},
            ],
        }
    ],
}


# --- signatures -------------------------------------------------------------


def test_x_signature_and_crc_token_are_base64_hmac_sha256_of_the_secret():
    secret, body = "consumer-secret", b'{"for_user_id":"1"}'
    expected = base64.b64encode(hmac.new(b"consumer-secret", body, hashlib.sha256).digest())
    assert platforms.x_signature(secret, body) == "sha256=" + expected.decode()
    crc = base64.b64encode(hmac.new(b"consumer-secret", b"challenge", hashlib.sha256).digest())
    assert platforms.x_crc_response_token(secret, "challenge") == "sha256=" + crc.decode()


def test_x_crc_known_answer():
    # Independently computed: HMAC-SHA256(key="secret", msg="token"), base64.
    assert (
        platforms.x_crc_response_token("secret", "token")
        == "sha256=" + base64.b64encode(hmac.digest(b"secret", b"token", "sha256")).decode()
    )


def test_meta_signature_is_hex_hmac_sha256_of_the_app_secret():
    body = json.dumps(FACEBOOK_PAYLOAD).encode()
    expected = hmac.new(b"app-secret", body, hashlib.sha256).hexdigest()
    assert platforms.meta_signature("app-secret", body) == f"sha256={expected}"


@pytest.mark.parametrize(
    ("presented", "matches"),
    [("sha256=abc", True), ("sha256=abd", False), ("", False), (None, False), ("sha256=ä", False)],
)
def test_same_secret_compares_exactly_and_survives_odd_input(presented, matches):
    assert platforms.same_secret("sha256=abc", presented) is matches


# --- X ----------------------------------------------------------------------


def test_a_tweet_maps_to_a_canonical_mention_with_references_media_and_extras():
    mapped = platforms.map_x_payload(X_PAYLOAD)
    assert mapped.unmappable == []
    mention = mapped.mentions[0]
    assert mention.source is Source.X
    assert mention.source_id == "1050118621198921728"
    assert mention.text == TWEET["extended_tweet"]["full_text"]  # not the truncated text
    assert mention.created_at == datetime(2018, 10, 10, 20, 19, 24, tzinfo=UTC)
    assert mention.url == "https://x.com/maria_g/status/1050118621198921728"
    assert mention.author is not None
    assert mention.author.handle == "maria_g"
    assert mention.author.display_name == "Maria G"
    assert mention.author.follower_count == 1204
    assert mention.author.verified is True
    assert mention.language == "en"
    assert mention.geo is not None
    assert (mention.geo.lat, mention.geo.lon) == (37.77, -122.41)
    assert [(r.kind, r.source_id) for r in mention.references] == [
        ("reply", "1050118000000000000"),
        ("quote", "1050117000000000000"),
    ]
    assert [(m.kind, m.url) for m in mention.media] == [
        ("image", "https://pbs.twimg.com/media/a.jpg"),
        ("link", "https://n.example/1"),
    ]
    assert mention.metadata == {
        "account_id": "2244994945",
        "author_id": "6253282",
        "place": "San Francisco, CA",
    }


def test_a_retweet_keeps_its_offset_and_unknown_language_and_names_what_it_reposts():
    mention = platforms.map_x_payload(X_PAYLOAD).mentions[1]
    assert mention.created_at.utcoffset() is not None
    assert mention.created_at == datetime(2018, 10, 11, 6, 0, tzinfo=UTC)
    assert mention.language is None  # "und"
    assert mention.geo is None
    assert [(r.kind, r.source_id) for r in mention.references] == [
        ("repost", "1050118621198921728")
    ]
    assert mention.author is not None
    assert mention.author.follower_count is None


def test_other_x_event_kinds_are_counted_as_ignored():
    mapped = platforms.map_x_payload(
        {"for_user_id": "1", "favorite_events": [{}, {}], "tweet_delete_events": [{}]}
    )
    assert (mapped.mentions, mapped.unmappable, mapped.ignored) == ([], [], 3)
    assert platforms.map_x_payload(X_PAYLOAD).ignored == 3


def test_full_text_and_timestamp_ms_are_used_when_that_is_what_came():
    tweet = {
        "id_str": "9",
        "full_text": "Road closed",
        "timestamp_ms": "1764453600000",
        "user": {"screen_name": "a"},
    }
    mention = platforms.map_x_payload({"tweet_create_events": [tweet]}).mentions[0]
    assert mention.text == "Road closed"
    assert mention.created_at == datetime(2025, 11, 29, 22, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"text": None, "extended_tweet": None}, "tweet_create_events.1.text"),
        ({"created_at": "yesterday"}, "tweet_create_events.1.created_at"),
        ({"user": {"name": "no handle"}}, "tweet_create_events.1.user.screen_name"),
        ({"text": "x" * (MAX_TEXT_CHARS + 1)}, "tweet_create_events.1.text"),
        ({"coordinates": {"coordinates": [500, 500]}}, "tweet_create_events.1.coordinates"),
    ],
)
def test_an_unmappable_tweet_names_the_field_and_the_others_still_map(change, field):
    bad = {**RETWEET, **change}
    mapped = platforms.map_x_payload({"tweet_create_events": [TWEET, bad]})
    assert [m.source_id for m in mapped.mentions] == [TWEET["id_str"]]
    [item] = mapped.unmappable
    assert item.error.startswith(field), item.error
    assert item.source == "x"
    assert item.source_id == RETWEET["id_str"]
    assert json.loads(item.raw) == bad


def test_a_payload_that_is_not_an_object_is_unmappable_as_a_whole():
    mapped = platforms.map_x_payload([1, 2])
    assert mapped.mentions == []
    assert mapped.unmappable[0].error.startswith("(body)")


# --- Meta -------------------------------------------------------------------


def test_facebook_comments_and_posts_map_and_reactions_and_removals_are_ignored():
    mapped = platforms.map_meta_payload(FACEBOOK_PAYLOAD)
    assert mapped.unmappable == []
    assert mapped.ignored == 2
    comment, post = mapped.mentions
    assert comment.source is Source.FACEBOOK
    assert comment.source_id == "222_333"
    assert comment.text == "Power has been out on Oak Ave since noon"
    assert comment.created_at == datetime.fromtimestamp(1764453000, UTC)
    assert comment.author is not None
    assert (comment.author.handle, comment.author.display_name) == ("5550001", "Dana Whitfield")
    assert comment.url == "https://www.facebook.com/222_333"
    assert [(r.kind, r.source_id) for r in comment.references] == [("reply", "104411111111111_222")]
    assert comment.metadata["account_id"] == "104411111111111"
    assert post.source_id == "104411111111111_444"
    # No created_time on the change: the entry's time stands in.
    assert post.created_at == datetime.fromtimestamp(1764453600, UTC)
    assert post.references == ()


def test_facebook_iso_created_time_is_read_with_its_offset():
    payload = copy.deepcopy(FACEBOOK_PAYLOAD)
    payload["entry"][0]["changes"][0]["value"]["created_time"] = "2025-11-29T22:00:00+0100"
    mention = platforms.map_meta_payload(payload).mentions[0]
    assert mention.created_at == datetime(2025, 11, 29, 21, 0, tzinfo=UTC)


def test_instagram_comments_map_and_other_fields_are_ignored():
    mapped = platforms.map_meta_payload(INSTAGRAM_PAYLOAD)
    assert (mapped.ignored, mapped.unmappable) == (1, [])
    [mention] = mapped.mentions
    assert mention.source is Source.INSTAGRAM
    assert mention.source_id == "17865799348089039"
    assert mention.text == "There's a fire behind the mall"
    assert mention.author is not None
    assert mention.author.handle == "jo.on.main"
    assert mention.created_at == datetime.fromtimestamp(1764453600, UTC)
    assert mention.created_at.tzinfo is not None
    assert mention.metadata["media_id"] == "17887498072083520"
    assert mention.metadata["author_id"] == "1789000"


@pytest.mark.parametrize(
    ("value_change", "field"),
    [
        ({"message": None}, "entry.0.changes.1.value.message"),
        ({"post_id": None}, "entry.0.changes.1.value.post_id"),
        ({"message": "y" * (MAX_TEXT_CHARS + 1)}, "entry.0.changes.1.value.message"),
        ({"created_time": "2025-11-29T22:00:00"}, "entry.0.changes.1.value.created_time"),
    ],
)
def test_an_unmappable_meta_change_names_the_field_and_the_rest_still_map(value_change, field):
    payload = copy.deepcopy(FACEBOOK_PAYLOAD)
    change = payload["entry"][0]["changes"][1]
    change["value"].update(value_change)
    mapped = platforms.map_meta_payload(payload)
    assert [m.source_id for m in mapped.mentions] == ["222_333"]
    [item] = mapped.unmappable
    assert item.error.startswith(field), item.error
    assert item.source == "facebook"
    assert json.loads(item.raw) == change


def test_an_instagram_change_without_text_is_unmappable():
    payload = copy.deepcopy(INSTAGRAM_PAYLOAD)
    del payload["entry"][0]["changes"][0]["value"]["text"]
    [item] = platforms.map_meta_payload(payload).unmappable
    assert item.error.startswith("entry.0.changes.0.value.text")
    assert item.source_id == "17865799348089039"


def test_other_meta_objects_are_ignored_and_shapeless_payloads_unmappable():
    assert platforms.map_meta_payload({"object": "whatsapp_business_account"}).ignored == 1
    assert platforms.map_meta_payload({"entry": []}).unmappable[0].error.startswith("object")
    shapeless = platforms.map_meta_payload({"object": "page", "entry": {"id": "1"}})
    assert shapeless.unmappable[0].error.startswith("entry")
