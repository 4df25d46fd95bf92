"""Ingest while its broker is down and after it comes back: refused explicitly, never lost."""

import time

import pytest
from fastapi.testclient import TestClient

from conftest import OwnBroker, run_async, wait_app_ready
from switchboard_ingest.app import create_app
from switchboard_ingest.settings import IngestSettings
from switchboard_shared.topics import RAW

pytestmark = pytest.mark.kafka


@pytest.fixture
def own_broker(tmp_path):
    """A broker of this test's own, which it may stop and start."""
    broker = OwnBroker(tmp_path / "kafka")
    broker.run("start")
    yield broker.bootstrap, broker.run
    broker.run("clean")


def mention(n):
    return {
        "source": "sms",
        "source_id": f"outage-{n}",
        "text": f"report {n}",
        "created_at": "2026-11-29T22:00:00Z",
    }


def test_with_the_broker_stopped_intake_answers_503_and_after_restart_every_202_is_on_the_topic_once(
    own_broker, topic_prefix, topic_reader
):
    bootstrap, kafka = own_broker
    settings = IngestSettings(
        kafka_bootstrap_servers=bootstrap,
        topic_prefix=topic_prefix,
        kafka_ack_timeout_seconds=2,
        ingest_retry_after_seconds=3,
        ingest_allow_open=True,
    )
    accepted = {}
    with TestClient(create_app(settings)) as client:
        wait_app_ready(client, timeout=60)
        for n in (1, 2):
            response = client.post("/v1/mentions", json=mention(n))
            assert response.status_code == 202
            accepted[n] = response.json()["mention_id"]

        kafka("stop")
        for n in (3, 4):
            response = client.post("/v1/mentions", json=mention(n))
            assert response.status_code == 503, response.text
            assert response.headers["retry-after"] == "3"
        assert client.get("/readyz").status_code == 503

        kafka("start")
        # The client retries what was refused, and re-sends one that was accepted.
        deadline = time.monotonic() + 60
        while True:
            response = client.post("/v1/mentions", json=mention(3))
            if response.status_code in (200, 202) or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert response.status_code in (200, 202), response.text
        accepted[3] = response.json()["mention_id"]
        assert client.post("/v1/mentions", json=mention(1)).json()["status"] == "duplicate"

    reader = type(topic_reader)(bootstrap)
    records = run_async(reader.read_quiet(RAW.name(topic_prefix), settle=3))
    keys = [r.key.decode() for r in records]
    for n, mention_id in accepted.items():
        assert keys.count(mention_id) == 1, (
            f"mention {n} is on the topic {keys.count(mention_id)} times"
        )
