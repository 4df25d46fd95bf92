"""HTTP intake on the real broker: 202 means the record is on the topic, exactly once."""

import hashlib
import json
import time

import pytest
from fastapi.testclient import TestClient

from conftest import run_async, wait_app_ready
from switchboard_ingest.app import create_app
from switchboard_shared.events import MentionReceived
from switchboard_shared.topics import RAW

pytestmark = pytest.mark.kafka

MENTION = {
    "source": "x",
    "source_id": "1869",
    "text": "Shots fired near 5th and Main right now",
    "created_at": "2026-11-29T22:00:00+00:00",
    "author": {"handle": "maria_g", "follower_count": 12},
    "references": [{"kind": "reply", "source_id": "1868"}],
    "media": [{"url": "https://example.org/p.jpg", "kind": "image"}],
}


@pytest.fixture
def settings(broker_settings):
    return broker_settings(
        ingest_max_body_bytes=8192,
        ingest_batch_max_items=5,
        ingest_allow_open=True,
    )


def raw_records(topic_reader, prefix, count, timeout=10):
    return run_async(topic_reader.read(RAW.name(prefix), count=count, timeout=timeout))


def test_accepted_mention_is_on_the_raw_topic_when_202_is_answered(client, settings, topic_reader):
    response = client.post("/v1/mentions", json=MENTION)
    assert response.status_code == 202, response.text
    answer = response.json()
    assert answer["status"] == "accepted"
    [record] = raw_records(topic_reader, settings.topic_prefix, 1)
    assert (record.partition, record.offset) == (answer["partition"], answer["offset"])
    assert record.key == answer["mention_id"].encode()
    event = MentionReceived.model_validate_json(record.value)
    assert event.mention_id == answer["mention_id"]
    assert event.mention.text == MENTION["text"]
    assert event.mention.author.handle == "maria_g"
    assert event.mention.references[0].source_id == "1868"


def test_a_resent_mention_is_answered_as_duplicate_and_produces_nothing_new(
    client, settings, topic_reader
):
    first = client.post("/v1/mentions", json=MENTION)
    again = client.post("/v1/mentions", json={**MENTION, "text": "edited later"})
    assert (first.status_code, again.status_code) == (202, 200)
    assert again.json() == {
        "mention_id": first.json()["mention_id"],
        "status": "duplicate",
        "topic": None,
        "partition": None,
        "offset": None,
    }
    assert len(run_async(topic_reader.read_quiet(RAW.name(settings.topic_prefix), settle=1.5))) == 1
    assert (
        'switchboard_ingest_duplicates_total{source="x",via="api"} 1.0'
        in client.get("/metrics").text
    )


def test_duplicates_are_remembered_across_a_restart_and_by_another_replica(settings, topic_reader):
    with TestClient(create_app(settings)) as first:
        wait_app_ready(first)
        assert first.post("/v1/mentions", json=MENTION).status_code == 202
    with TestClient(create_app(settings)) as restarted, TestClient(create_app(settings)) as replica:
        wait_app_ready(restarted)
        wait_app_ready(replica)
        assert restarted.post("/v1/mentions", json=MENTION).json()["status"] == "duplicate"
        assert replica.post("/v1/mentions", json=MENTION).json()["status"] == "duplicate"
        # A mention accepted by one live replica is known to the other within moments.
        fresh = {**MENTION, "source_id": "1870"}
        accepted = restarted.post("/v1/mentions", json=fresh)
        assert accepted.status_code == 202
        seen_by_replica = replica.app.state.intake.seen
        deadline = time.monotonic() + 10
        while (
            not seen_by_replica.contains(accepted.json()["mention_id"])
            and time.monotonic() < deadline
        ):
            time.sleep(0.05)
        assert replica.post("/v1/mentions", json=fresh).json()["status"] == "duplicate"
    assert len(run_async(topic_reader.read_quiet(RAW.name(settings.topic_prefix), settle=1.5))) == 2


def test_a_batch_answers_each_item_and_one_bad_item_does_not_reject_the_good_ones(
    client, settings, topic_reader
):
    items = [
        MENTION,
        {**MENTION, "source_id": "2"},
        {**MENTION, "source_id": "3", "created_at": "yesterday"},
        MENTION,
    ]
    response = client.post("/v1/mentions/batch", json={"mentions": items})
    assert response.status_code == 207, response.text
    results = response.json()["results"]
    assert [r["status"] for r in results] == ["accepted", "accepted", "invalid", "duplicate"]
    assert results[2]["errors"][0]["field"] == "mentions.2.created_at"
    assert response.json()["counts"] == {"accepted": 2, "invalid": 1, "duplicate": 1}
    keys = sorted(
        r.key
        for r in run_async(topic_reader.read_quiet(RAW.name(settings.topic_prefix), settle=1.5))
    )
    assert keys == sorted([results[0]["mention_id"].encode(), results[1]["mention_id"].encode()])


def test_a_batch_over_the_limit_is_refused_naming_the_field(client):
    response = client.post("/v1/mentions/batch", json={"mentions": [MENTION] * 6})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "mentions"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"created_at": "2026-11-29T22:00:00"}, "created_at"),
        ({"text": ""}, "text"),
        ({"source": "carrier-pigeon"}, "source"),
        ({"author": {"handle": "x", "follower_count": -1}}, "author.follower_count"),
        ({"references": [{"kind": "like", "source_id": "1"}]}, "references.0.kind"),
        ({"unexpected": 1}, "unexpected"),
    ],
)
def test_a_malformed_mention_gets_422_naming_the_field_and_writes_nothing(
    client, settings, topic_reader, change, field
):
    response = client.post("/v1/mentions", json={**MENTION, **change})
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["status"] == 422
    assert problem["errors"][0]["field"] == field
    assert problem["detail"].startswith(field)
    assert run_async(topic_reader.read_quiet(RAW.name(settings.topic_prefix), settle=1.5)) == []


def test_wrong_content_type_gets_415_and_oversized_body_413(client):
    response = client.post(
        "/v1/mentions", content=json.dumps(MENTION), headers={"content-type": "text/plain"}
    )
    assert response.status_code == 415
    assert "content-type" in response.json()["detail"]
    response = client.post("/v1/mentions", json={**MENTION, "text": "a" * 9000})
    assert response.status_code == 413
    assert response.json()["title"] == "Body too large"


def test_broken_json_gets_422_not_500(client):
    response = client.post(
        "/v1/mentions", content=b'{"source": "x",', headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["type"] == "json_invalid"


def test_the_mention_schema_is_published(client):
    schema = client.get("/v1/schemas/mention.v1.json").json()
    assert schema["additionalProperties"] is False
    assert {"source", "source_id", "text", "created_at"} <= set(schema["required"])


def test_api_keys_are_required_and_scoped_to_their_sources(
    broker_settings, topic_prefix, tmp_path, topic_reader
):
    keys = tmp_path / "keys.json"
    keys.write_text(
        json.dumps(
            [
                {
                    "name": "city-app",
                    "sha256": hashlib.sha256(b"s3cret").hexdigest(),
                    "sources": ["app", "sms"],
                }
            ]
        )
    )
    settings = broker_settings(ingest_api_keys_file=keys)
    app_mention = {**MENTION, "source": "app"}
    with TestClient(create_app(settings)) as client:
        wait_app_ready(client)
        missing = client.post("/v1/mentions", json=app_mention)
        assert missing.status_code == 401
        assert missing.headers["www-authenticate"].startswith("Bearer")
        assert (
            client.post(
                "/v1/mentions", json=app_mention, headers={"authorization": "Bearer wrong"}
            ).status_code
            == 401
        )
        out_of_scope = client.post("/v1/mentions", json=MENTION, headers={"x-api-key": "s3cret"})
        assert out_of_scope.status_code == 403
        assert out_of_scope.json()["detail"].startswith("source:")
        ok = client.post(
            "/v1/mentions", json=app_mention, headers={"authorization": "Bearer s3cret"}
        )
        assert ok.status_code == 202
        batch = client.post(
            "/v1/mentions/batch",
            json={"mentions": [MENTION, {**app_mention, "source_id": "b"}]},
            headers={"x-api-key": "s3cret"},
        )
        assert [r["status"] for r in batch.json()["results"]] == ["forbidden", "accepted"]
    records = run_async(topic_reader.read_quiet(RAW.name(topic_prefix), settle=1.5))
    assert sorted(
        MentionReceived.model_validate_json(r.value).mention.source.value for r in records
    ) == ["app", "app"]


def test_unreachable_kafka_gets_503_with_retry_after_never_202(unreachable_kafka_settings):
    settings = unreachable_kafka_settings()
    with TestClient(create_app(settings)) as client:
        assert client.get("/readyz").status_code == 503
        response = client.post("/v1/mentions", json=MENTION)
        assert response.status_code == 503
        assert int(response.headers["retry-after"]) >= 1
        assert "nothing was accepted" in response.json()["detail"]
        batch = client.post("/v1/mentions/batch", json={"mentions": [MENTION]})
        assert batch.status_code == 503
        assert batch.json()["results"][0]["status"] == "unavailable"
        assert "switchboard_ingest_unavailable_total" in client.get("/metrics").text
