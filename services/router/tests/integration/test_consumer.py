"""The router's consumer on the real broker and PostgreSQL."""

import asyncio
import time

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from conftest import classified_event, wait_for
from switchboard_router.db.engine import make_engine, migrate
from switchboard_router.items.service import count_items, list_items
from switchboard_router.kafka.consumer import RouterConsumer
from switchboard_router.queues.service import list_queues
from switchboard_router.routing.policy import Policy
from switchboard_router.settings import RouterSettings
from switchboard_shared.events import (
    DeadLetter,
    MentionRouted,
    Urgency,
)
from switchboard_shared.kafka import ensure_topics
from switchboard_shared.topics import ALL, CLASSIFIED, DEADLETTER, ROUTED

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]


def classified(source_id, urgency=Urgency.CRITICAL, topics=("active_threat",)):
    return classified_event(source_id, urgency, topics, text="Shots fired near 5th")


async def committed_total(settings, group_id):
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        group_id=group_id,
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        topic = CLASSIFIED.name(settings.topic_prefix)
        total = 0
        for partition in range(CLASSIFIED.partitions):
            offset = await consumer.committed(TopicPartition(topic, partition))
            total += offset or 0
        return total
    finally:
        await consumer.stop()


async def test_replayed_mentions_give_one_item_poison_is_dead_lettered_and_offsets_follow_the_commit(
    kafka_bootstrap, topic_prefix, database_url, raw_producer, topic_reader
):
    group = f"{topic_prefix}router"
    settings = RouterSettings(
        kafka_bootstrap_servers=kafka_bootstrap,
        topic_prefix=topic_prefix,
        database_url=database_url,
        router_group_id=group,
    )
    await ensure_topics(settings, ALL)
    engine = make_engine(database_url)
    migrate(engine)
    topic = CLASSIFIED.name(topic_prefix)
    critical, low = classified("c1"), classified("c2", Urgency.LOW, ("praise",))
    for event in (critical, low, critical):  # the third is a redelivery
        await raw_producer.send_and_wait(
            topic, event.model_dump_json().encode(), key=event.mention_id.encode()
        )
    await raw_producer.send_and_wait(topic, b'{"mention_id": "zz", "schema_version": 1}', key=b"zz")

    consumer = RouterConsumer(settings, engine, Policy.load())
    consumer.start()
    try:
        assert await wait_for(lambda: count_items(engine) == 2)
        dead = await topic_reader.read(DEADLETTER.name(topic_prefix), count=1, timeout=20)
        routed = await topic_reader.read(ROUTED.name(topic_prefix), count=2, timeout=20)
        deadline = time.monotonic() + 20
        while await committed_total(settings, group) < 4 and time.monotonic() < deadline:
            await asyncio.sleep(0.3)
        assert await committed_total(settings, group) == 4
    finally:
        await consumer.stop()

    letter = DeadLetter.model_validate_json(dead[0].value)
    assert (letter.stage, letter.reason, letter.mention_id) == ("router", "schema", "zz")
    events = [MentionRouted.model_validate_json(r.value) for r in routed]
    assert {e.mention_id for e in events} == {critical.mention_id, low.mention_id}
    queues = {q["queue_id"]: q["depth"] for q in list_queues(engine)}
    assert queues == {"emergency": 1, "community-engagement": 1}
    [item] = list_items(engine, queue_id="emergency", limit=10, after=None)
    assert item["mention_id"] == critical.mention_id
    assert item["rule"] == "critical-to-emergency"
    assert item["ruleset_version"] == "r1"

    # A restarted member of the group resumes at the committed offsets: nothing is replayed.
    consumer = RouterConsumer(settings, engine, Policy.load())
    consumer.start()
    try:
        await asyncio.wait_for(consumer.started.wait(), 20)
        kafka = consumer.consumer
        assert await wait_for(lambda: len(kafka.assignment()) == CLASSIFIED.partitions)
        positions = [await kafka.position(tp) for tp in kafka.assignment()]
        assert sum(positions) == 4
        assert count_items(engine) == 2
    finally:
        await consumer.stop()
        engine.dispose()
