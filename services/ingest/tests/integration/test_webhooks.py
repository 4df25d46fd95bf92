"""Platform webhooks on the real broker: only signed deliveries reach the topics."""

import base64
import hashlib
import hmac
import json

import pytest
from fastapi.testclient import TestClient

from conftest import run_async, wait_app_ready
from switchboard_ingest.app import create_app
from switchboard_shared.events import DeadLetter, MentionReceived
from switchboard_shared.identity import mention_id_for
from switchboard_shared.topics import DEADLETTER, RAW

pytestmark = pytest.mark.kafka

X_SECRET = "x-consumer-secret"
META_SECRET = "meta-app-secret"
VERIFY_TOKEN = "verify-me"


def tweet(tweet_id: str, text: str) -> dict:
    return {
        "id_str": tweet_id,
        "created_at": "Sat Nov 29 22:00:00 +0000 2025",
        "text": text,
        "user": {"id_str": "42", "screen_name": "maria_g", "name": "Maria", "followers_count": 7},
        "lang": "en",
    }


X_PAYLOAD = {
    "for_user_id": "2244994945",
    "tweet_create_events": [
        tweet("1864400000000000001", "Shots fired near 5th and Main"),
        tweet("1864400000000000002", "Road blocked by police at 5th"),
    ],
    "favorite_events": [{"id": "ignored"}],
}
GOOD_CHANGE = {
    "field": "feed",
    "value": {
        "item": "comment",
        "verb": "add",
        "post_id": "1044_222",
        "comment_id": "222_333",
        "message": "Power has been out on Oak Ave since noon",
        "from": {"id": "5550001", "name": "Dana"},
        "created_time": 1764453000,
    },
}
UNMAPPABLE_CHANGE = {
    "field": "feed",
    "value": {"item": "post", "verb": "add", "post_id": "1044_444", "from": {"id": "5550002"}},
}
META_PAYLOAD = {
    "object": "page",
    "entry": [{"id": "1044", "time": 1764453600, "changes": [GOOD_CHANGE, UNMAPPABLE_CHANGE]}],
}


def x_signed(payload: dict) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(payload).encode()
    digest = hmac.new(X_SECRET.encode(), body, hashlib.sha256).digest()
    signature = "sha256=" + base64.b64encode(digest).decode()
    return body, {"x-twitter-webhooks-signature": signature, "content-type": "application/json"}


def meta_signed(payload: dict) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(payload).encode()
    signature = "sha256=" + hmac.new(META_SECRET.encode(), body, hashlib.sha256).hexdigest()
    return body, {"x-hub-signature-256": signature, "content-type": "application/json"}


@pytest.fixture
def settings(broker_settings):
    return broker_settings(
        ingest_x_consumer_secret=X_SECRET,
        ingest_meta_app_secret=META_SECRET,
        ingest_meta_verify_token=VERIFY_TOKEN,
        ingest_allow_open=True,
    )


def test_x_crc_challenge_is_answered_with_the_hmac_of_the_token(client):
    response = client.get("/v1/webhooks/x", params={"crc_token": "challenge-123"})
    assert response.status_code == 200
    digest = hmac.new(X_SECRET.encode(), b"challenge-123", hashlib.sha256).digest()
    assert response.json() == {"response_token": "sha256=" + base64.b64encode(digest).decode()}
    missing = client.get("/v1/webhooks/x")
    assert missing.status_code == 422
    assert missing.json()["errors"][0]["field"] == "crc_token"


def test_meta_handshake_echoes_the_challenge_only_for_our_verify_token(client):
    params = {
        "hub.mode": "subscribe",
        "hub.verify_token": VERIFY_TOKEN,
        "hub.challenge": "1158201444",
    }
    response = client.get("/v1/webhooks/meta", params=params)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert response.text == "1158201444"
    refused = client.get("/v1/webhooks/meta", params={**params, "hub.verify_token": "guess"})
    assert refused.status_code == 403
    assert refused.headers["content-type"].startswith("application/problem+json")


def test_a_signed_x_delivery_lands_canonical_mentions_on_the_raw_topic(
    client, settings, topic_reader
):
    body, headers = x_signed(X_PAYLOAD)
    response = client.post("/v1/webhooks/x", content=body, headers=headers)
    assert response.status_code == 200, response.text
    ids = [mention_id_for("x", t["id_str"]) for t in X_PAYLOAD["tweet_create_events"]]
    assert response.json() == {
        "accepted": 2,
        "duplicates": 0,
        "dead_lettered": 0,
        "ignored": 1,
        "mention_ids": ids,
    }
    records = run_async(topic_reader.read(RAW.name(settings.topic_prefix), count=2, timeout=10))
    events = {
        e.mention_id: e for e in (MentionReceived.model_validate_json(r.value) for r in records)
    }
    assert set(events) == set(ids)
    mention = events[ids[0]].mention
    assert mention.text == "Shots fired near 5th and Main"
    assert mention.url == "https://x.com/maria_g/status/1864400000000000001"
    assert mention.author is not None and mention.author.handle == "maria_g"
    assert mention.created_at.tzinfo is not None
    assert mention.metadata["account_id"] == "2244994945"


def test_redelivery_of_the_same_signed_payload_is_answered_as_duplicates(
    client, settings, topic_reader
):
    body, headers = x_signed(X_PAYLOAD)
    assert client.post("/v1/webhooks/x", content=body, headers=headers).json()["accepted"] == 2
    again = client.post("/v1/webhooks/x", content=body, headers=headers)
    assert again.status_code == 200
    assert (again.json()["accepted"], again.json()["duplicates"]) == (0, 2)
    records = run_async(topic_reader.read_quiet(RAW.name(settings.topic_prefix), settle=2))
    assert len(records) == 2
    assert "switchboard_ingest_duplicates_total" in client.get("/metrics").text


@pytest.mark.parametrize("signature", [None, "sha256=bm90IHRoZSBzaWduYXR1cmU=", "garbage"])
def test_a_bad_or_missing_signature_gets_401_and_nothing_is_produced(
    client, settings, topic_reader, signature
):
    body, headers = x_signed(X_PAYLOAD)
    del headers["x-twitter-webhooks-signature"]
    if signature is not None:
        headers["x-twitter-webhooks-signature"] = signature
    response = client.post("/v1/webhooks/x", content=body, headers=headers)
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")

    body, headers = meta_signed(META_PAYLOAD)
    tampered = body.replace(b"Oak Ave", b"Elm St")
    assert client.post("/v1/webhooks/meta", content=tampered, headers=headers).status_code == 401

    for topic in (RAW, DEADLETTER):
        assert (
            run_async(topic_reader.read_quiet(topic.name(settings.topic_prefix), settle=1.5)) == []
        )
    assert 'reason="bad_signature"' in client.get("/metrics").text


def test_a_meta_delivery_submits_the_good_change_and_dead_letters_the_unmappable_one(
    client, settings, topic_reader
):
    body, headers = meta_signed(META_PAYLOAD)
    response = client.post("/v1/webhooks/meta", content=body, headers=headers)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert (answer["accepted"], answer["dead_lettered"], answer["ignored"]) == (1, 1, 0)
    assert answer["mention_ids"] == [mention_id_for("facebook", "222_333")]

    raw = run_async(topic_reader.read_quiet(RAW.name(settings.topic_prefix), settle=2))
    assert len(raw) == 1
    mention = MentionReceived.model_validate_json(raw[0].value).mention
    assert (mention.source.value, mention.source_id) == ("facebook", "222_333")
    assert mention.text == GOOD_CHANGE["value"]["message"]

    dead = run_async(topic_reader.read(DEADLETTER.name(settings.topic_prefix), count=1, timeout=10))
    assert len(dead) == 1
    letter = DeadLetter.model_validate_json(dead[0].value)
    assert letter.reason == "normalisation"
    assert letter.error.startswith("entry.0.changes.1.value.message")
    assert json.loads(letter.raw_payload) == UNMAPPABLE_CHANGE
    assert letter.mention_id == mention_id_for("facebook", "1044_444")


def test_webhooks_without_their_secret_do_not_exist(broker_settings):
    settings = broker_settings(ingest_allow_open=True)
    with TestClient(create_app(settings)) as client:
        assert client.get("/v1/webhooks/x", params={"crc_token": "t"}).status_code == 404
        assert client.post("/v1/webhooks/meta", content=b"{}").status_code == 404


def test_unreachable_kafka_gets_503_with_retry_after_so_the_platform_redelivers(
    unreachable_kafka_settings,
):
    settings = unreachable_kafka_settings(ingest_meta_app_secret=META_SECRET)
    with TestClient(create_app(settings)) as client:
        body, headers = meta_signed(META_PAYLOAD)
        response = client.post("/v1/webhooks/meta", content=body, headers=headers)
        assert response.status_code == 503
        assert int(response.headers["retry-after"]) >= 1


# --- the CRC endpoint is no signing oracle (issue 11, finding 1) ------------

FORGED = {
    "for_user_id": "2244994945",
    "tweet_create_events": [
        {
            "id_str": "1864499999999999999",
            "created_at": "Sat Nov 29 22:00:00 +0000 2025",
            "text": "Active shooter at 5th and Main",
            "user": {"id_str": "666", "screen_name": "made_up_author", "name": "Nobody"},
            "lang": "en",
        }
    ],
}


def x_crc_answer(token: str) -> str:
    digest = hmac.new(X_SECRET.encode(), token.encode(), hashlib.sha256).digest()
    return "sha256=" + base64.b64encode(digest).decode()


@pytest.mark.parametrize("separators", [(", ", ": "), (",", ":")], ids=["spaced", "compact"])
def test_the_crc_endpoint_will_not_sign_a_forged_delivery_and_the_forgery_is_refused(
    client, settings, topic_reader, separators
):
    forged = json.dumps(FORGED, separators=separators)
    # The attack: have the CRC endpoint "sign" the body, then post it with that answer.
    crc = client.get("/v1/webhooks/x", params={"crc_token": forged})
    assert crc.status_code == 422, crc.text
    assert crc.headers["content-type"].startswith("application/problem+json")
    assert crc.json()["errors"][0]["field"] == "crc_token"
    assert "response_token" not in crc.json()
    signature = crc.json().get("response_token", "sha256=")
    posted = client.post(
        "/v1/webhooks/x",
        content=forged.encode(),
        headers={"x-twitter-webhooks-signature": signature, "content-type": "application/json"},
    )
    assert posted.status_code == 401, posted.text
    for topic in (RAW, DEADLETTER):
        assert (
            run_async(topic_reader.read_quiet(topic.name(settings.topic_prefix), settle=1.5)) == []
        )

    # X itself is unaffected: its CRC token is answered, its signed delivery lands.
    token = "dGhpcyBpcyBhIHJhbmRvbSBjcmMgdG9rZW4gZnJvbSBY-_=+/09"
    answered = client.get("/v1/webhooks/x", params={"crc_token": token})
    assert answered.status_code == 200
    assert answered.json() == {"response_token": x_crc_answer(token)}
    body, headers = x_signed(X_PAYLOAD)
    delivered = client.post("/v1/webhooks/x", content=body, headers=headers)
    assert delivered.status_code == 200, delivered.text
    assert delivered.json()["accepted"] == 2


@pytest.mark.parametrize(
    "token",
    ["a" * 256, "has space", 'quote"d', "colon:", "line\nbreak", "{", "tab\t", "ünïcode"],
)
def test_crc_tokens_not_shaped_like_x_tokens_are_refused_naming_the_field(client, token):
    response = client.get("/v1/webhooks/x", params={"crc_token": token})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "crc_token"


def test_a_body_the_crc_endpoint_does_sign_is_not_taken_as_a_delivery(
    client, settings, topic_reader
):
    token = "bm90LWEtdHdlZXQ"
    answer = client.get("/v1/webhooks/x", params={"crc_token": token})
    assert answer.status_code == 200
    posted = client.post(
        "/v1/webhooks/x",
        content=token.encode(),
        headers={"x-twitter-webhooks-signature": answer.json()["response_token"]},
    )
    assert posted.status_code == 401, posted.text
    # Not even a dead letter: a CRC-signed string is noise anyone can make.
    for topic in (RAW, DEADLETTER):
        assert (
            run_async(topic_reader.read_quiet(topic.name(settings.topic_prefix), settle=1.5)) == []
        )


# --- rate limits of the webhook doors (issue 11, finding 6) -----------------


def limited_value(client: TestClient, door: str) -> float:
    for line in client.get("/metrics").text.splitlines():
        if line.startswith(f'switchboard_ingest_rate_limited_total{{door="{door}"}}'):
            return float(line.split()[-1])
    raise AssertionError(f"no rate_limited series for door {door}")


def test_handshakes_are_limited_per_client_address_with_429_and_retry_after(settings):
    limited = settings.model_copy(
        update={"ingest_handshake_burst": 3, "ingest_handshake_rate_per_second": 0.01}
    )
    app = create_app(limited)
    with TestClient(app) as client:
        before = limited_value(client, "x_crc")
        answers = [
            client.get("/v1/webhooks/x", params={"crc_token": f"t{n}"}).status_code
            for n in range(3)
        ]
        assert answers == [200, 200, 200]
        refused = client.get("/v1/webhooks/x", params={"crc_token": "t9"})
        assert refused.status_code == 429
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert int(refused.headers["retry-after"]) >= 1
        assert "response_token" not in refused.json()
        # The Meta handshake answers anyone too, and shares the address's allowance.
        meta = client.get(
            "/v1/webhooks/meta",
            params={"hub.mode": "subscribe", "hub.verify_token": "guess", "hub.challenge": "1"},
        )
        assert meta.status_code == 429
        assert limited_value(client, "x_crc") == before + 1
        # Another address is not held back by this one.
        other = TestClient(app, client=("192.0.2.7", 40000))
        assert other.get("/v1/webhooks/x", params={"crc_token": "t1"}).status_code == 200


def test_signed_deliveries_are_limited_per_platform_and_unsigned_ones_use_up_nothing(settings):
    limited = settings.model_copy(
        update={"ingest_webhook_burst": 2, "ingest_webhook_rate_per_second": 0.01}
    )
    with TestClient(create_app(limited)) as client:
        wait_app_ready(client)
        before = limited_value(client, "webhook_x")
        body, headers = x_signed(X_PAYLOAD)
        unsigned = {**headers, "x-twitter-webhooks-signature": "sha256=AAAA"}
        for _ in range(5):
            assert client.post("/v1/webhooks/x", content=body, headers=unsigned).status_code == 401
        assert client.post("/v1/webhooks/x", content=body, headers=headers).status_code == 200
        assert client.post("/v1/webhooks/x", content=body, headers=headers).status_code == 200
        refused = client.post("/v1/webhooks/x", content=body, headers=headers)
        assert refused.status_code == 429
        assert int(refused.headers["retry-after"]) >= 1
        assert limited_value(client, "webhook_x") == before + 1
        # Meta's allowance is its own.
        body, headers = meta_signed(META_PAYLOAD)
        assert client.post("/v1/webhooks/meta", content=body, headers=headers).status_code == 200
