"""The classifier worker as a process on the real broker."""

import json

import httpx
import pytest

from conftest import classifier_env
from switchboard_shared.events import (
    DeadLetter,
    MentionClassified,
    MentionIn,
    MentionReceived,
    Urgency,
)
from switchboard_shared.topics import CLASSIFIED, DEADLETTER, RAW

pytestmark = pytest.mark.kafka


def raw_event(source_id, text):
    m = MentionIn(source="sms", source_id=source_id, text=text, created_at="2026-11-29T22:00:00Z")
    return MentionReceived(mention_id=m.mention_id, mention=m)


async def test_worker_classifies_good_records_and_dead_letters_poison_without_stopping(
    kafka_bootstrap, topic_prefix, port_factory, service_runner, raw_producer, topic_reader
):
    port = port_factory()
    worker = service_runner(
        "switchboard_classifier", classifier_env(kafka_bootstrap, topic_prefix, port)
    )
    worker.wait_ready(f"http://127.0.0.1:{port}/readyz")

    emergency = raw_event("a1", "someone just got shot outside the Shell on 5th and Main")
    chatter = raw_event("a2", "this new album is fire")
    schema_broken = json.loads(raw_event("a3", "x").model_dump_json())
    del schema_broken["mention"]["source"]
    raw = RAW.name(topic_prefix)
    # Poison first and in the middle: the good records after it must still flow.
    await raw_producer.send_and_wait(raw, b"{not json", key=b"p1")
    await raw_producer.send_and_wait(
        raw, emergency.model_dump_json().encode(), key=emergency.mention_id.encode()
    )
    await raw_producer.send_and_wait(raw, json.dumps(schema_broken).encode(), key=b"p2")
    await raw_producer.send_and_wait(
        raw, chatter.model_dump_json().encode(), key=chatter.mention_id.encode()
    )

    classified = await topic_reader.read(CLASSIFIED.name(topic_prefix), count=2, timeout=60)
    events = {
        e.mention_id: e
        for e in (MentionClassified.model_validate_json(r.value) for r in classified)
    }
    assert set(events) == {emergency.mention_id, chatter.mention_id}, worker.log_tail()
    assert events[emergency.mention_id].classification.urgency is Urgency.CRITICAL
    assert events[chatter.mention_id].classification.urgency is Urgency.LOW
    assert all(r.key.decode() in events for r in classified)

    dead = [
        DeadLetter.model_validate_json(r.value)
        for r in await topic_reader.read(DEADLETTER.name(topic_prefix), count=2, timeout=30)
    ]
    assert sorted(d.reason for d in dead) == ["not_json", "schema"]
    schema_letter = next(d for d in dead if d.reason == "schema")
    assert schema_letter.error.startswith("mention.source")
    assert schema_letter.source_topic == raw and schema_letter.offset is not None

    metrics = httpx.get(f"http://127.0.0.1:{port}/metrics").text
    assert 'switchboard_classifier_classified_total{urgency="critical"} 1.0' in metrics
    assert 'switchboard_classifier_deadlettered_total{reason="not_json"} 1.0' in metrics


async def test_the_worker_serves_metrics_only_on_its_metrics_port_and_only_with_the_token(
    kafka_bootstrap, topic_prefix, port_factory, service_runner
):
    # The attacks: GET /metrics on the health port, and faust's own pages
    # (cluster layout, partition assignment, tables, sensor counters).
    port, metrics_port = port_factory(), port_factory()
    token = "classifier-metrics-token-0123"
    env = classifier_env(
        kafka_bootstrap,
        topic_prefix,
        port,
        SWITCHBOARD_CLASSIFIER_METRICS_PORT=str(metrics_port),
        SWITCHBOARD_CLASSIFIER_METRICS_TOKEN=token,
    )
    worker = service_runner("switchboard_classifier", env)
    worker.wait_ready(f"http://127.0.0.1:{port}/readyz")

    base = f"http://127.0.0.1:{port}"
    for path in ("/metrics", "/router/", "/table/", "/assignment/", "/graph/", "/performance/"):
        answer = httpx.get(f"{base}{path}", headers={"authorization": f"Bearer {token}"})
        assert answer.status_code == 404, (path, answer.status_code)
        assert "switchboard_classifier" not in answer.text
    url = f"http://127.0.0.1:{metrics_port}/metrics"
    refused = httpx.get(url)
    assert refused.status_code == 401 and "switchboard_classifier" not in refused.text
    allowed = httpx.get(url, headers={"authorization": f"Bearer {token}"})
    assert allowed.status_code == 200, worker.log_tail()
    assert "switchboard_classifier_classified_total" in allowed.text
