"""Ingest on the real broker: 202 means the record is on the topic."""

import json
import time

import pytest
from fastapi.testclient import TestClient

from conftest import free_port, run_async
from switchboard_ingest.app import create_app
from switchboard_ingest.settings import IngestSettings
from switchboard_shared.events import MentionReceived
from switchboard_shared.topics import RAW

pytestmark = pytest.mark.kafka

MENTION = {
    "source": "x",
    "source_id": "1869",
    "text": "Shots fired near 5th and Main right now",
    "created_at": "2026-11-29T22:00:00+00:00",
    "author": {"handle": "maria_g", "follower_count": 12},
}


def wait_ready(client: TestClient, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if client.get("/readyz").status_code == 200:
            return
        time.sleep(0.2)
    pytest.fail(f"ingest not ready: {client.get('/readyz').json()}")


@pytest.fixture
def settings(kafka_bootstrap, topic_prefix):
    return IngestSettings(
        kafka_bootstrap_servers=kafka_bootstrap,
        topic_prefix=topic_prefix,
        ingest_max_body_bytes=4096,
    )


@pytest.fixture
def client(settings):
    with TestClient(create_app(settings)) as client:
        wait_ready(client)
        yield client


def test_accepted_mention_is_on_the_raw_topic_when_202_is_answered(client, settings, topic_reader):
    response = client.post("/v1/mentions", json=MENTION)
    assert response.status_code == 202, response.text
    answer = response.json()
    records = run_async(topic_reader.read(RAW.name(settings.topic_prefix), count=1, timeout=5))
    assert len(records) == 1
    record = records[0]
    assert (record.partition, record.offset) == (answer["partition"], answer["offset"])
    assert record.key == answer["mention_id"].encode()
    event = MentionReceived.model_validate_json(record.value)
    assert event.mention_id == answer["mention_id"]
    assert event.mention.text == MENTION["text"]
    assert event.mention.author.handle == "maria_g"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"created_at": "2026-11-29T22:00:00"}, "created_at"),
        ({"text": ""}, "text"),
        ({"source": "carrier-pigeon"}, "source"),
        ({"author": {"handle": "x", "follower_count": -1}}, "author.follower_count"),
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
    huge = {**MENTION, "text": "a" * 5000}
    response = client.post("/v1/mentions", json=huge)
    assert response.status_code == 413
    assert response.json()["title"] == "Body too large"


def test_broken_json_gets_422_not_500(client):
    response = client.post(
        "/v1/mentions", content=b'{"source": "x",', headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["type"] == "json_invalid"


def test_unreachable_kafka_gets_503_with_retry_after_never_202(topic_prefix):
    settings = IngestSettings(
        kafka_bootstrap_servers=f"127.0.0.1:{free_port()}",
        topic_prefix=topic_prefix,
        kafka_ack_timeout_seconds=1,
    )
    with TestClient(create_app(settings)) as client:
        assert client.get("/readyz").status_code == 503
        response = client.post("/v1/mentions", json=MENTION)
        assert response.status_code == 503
        assert int(response.headers["retry-after"]) >= 1
        assert "nothing was accepted" in response.json()["detail"]
        metrics = client.get("/metrics").text
        assert "switchboard_ingest_unavailable_total" in metrics
