"""Records that once stalled routing for everyone, on the real broker and PostgreSQL:
a stated district too long for a queue id, and any record the database refuses
for its data. Each is produced ahead of ordinary mentions on the same partition,
so a stall would keep those from ever being queued."""

import asyncio
import time

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from conftest import classified_event, wait_for
from switchboard_router.db.engine import make_engine, migrate
from switchboard_router.items import service as work
from switchboard_router.items.service import list_items
from switchboard_router.kafka.consumer import RouterConsumer
from switchboard_router.people.security import Principal, Role
from switchboard_router.queues.service import list_queues
from switchboard_router.routing.policy import Policy
from switchboard_router.settings import RouterSettings
from switchboard_shared.events import (
    DeadLetter,
    Urgency,
)
from switchboard_shared.kafka import ensure_topics
from switchboard_shared.topics import ALL, CLASSIFIED, DEADLETTER

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

ADMIN = Principal(officer_id="admin", name="a", role=Role.ADMIN, queues=frozenset())


def classified(source_id, urgency=Urgency.HIGH, *, district=None, text=None, ruleset="r1"):
    return classified_event(
        source_id,
        urgency,
        ("missing_person",),
        text=text or f"missing child last seen near the park ({source_id})",
        district=district,
        ruleset=ruleset,
    )


async def produce(producer, prefix, *events):
    """Each event onto partition 0, in order: what comes after a bad one waits behind it."""
    for event in events:
        await producer.send_and_wait(
            CLASSIFIED.name(prefix),
            event.model_dump_json().encode(),
            key=event.mention_id.encode(),
            partition=0,
        )


def stored_ids(engine):
    return {
        row["mention_id"]
        for q in list_queues(engine)
        for row in list_items(engine, queue_id=q["queue_id"], limit=200, after=None)
    }


async def committed(settings, group):
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap_servers, group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        return await consumer.committed(TopicPartition(CLASSIFIED.name(settings.topic_prefix), 0))
    finally:
        await consumer.stop()


@pytest.fixture
async def running(kafka_bootstrap, topic_prefix, database_url):
    """A migrated store and a router consumer on fresh topics: (settings, engine)."""
    settings = RouterSettings(
        kafka_bootstrap_servers=kafka_bootstrap,
        topic_prefix=topic_prefix,
        database_url=database_url,
        router_group_id=f"{topic_prefix}router",
    )
    await ensure_topics(settings, ALL)
    engine = make_engine(database_url)
    migrate(engine)
    consumer = RouterConsumer(settings, engine, Policy.load())
    consumer.start()
    yield settings, engine
    await consumer.stop()
    engine.dispose()


async def test_a_mention_stating_a_200_character_district_does_not_stop_the_next_one(
    running, raw_producer, topic_prefix
):
    _, engine = running
    odd_district = "Q" * 200
    odd = classified("odd", district=odd_district)
    normal = classified("after", Urgency.LOW)
    await produce(raw_producer, topic_prefix, odd, normal)

    assert await wait_for(lambda: stored_ids(engine) == {odd.mention_id, normal.mention_id})
    queues = {q["queue_id"] for q in list_queues(engine)}
    assert queues == {"priority", "general"}  # no queue was made from the stated district
    [item] = list_items(engine, queue_id="priority", limit=10, after=None)
    assert item["mention_id"] == odd.mention_id
    assert item["rule"] == "high-to-priority"
    detail = work.detail(engine, item_id=item["id"], actor=ADMIN)
    assert detail["mention"]["district"] == odd_district  # kept as text on the item

    # A district the policy knows still has its queue.
    known = classified("known", district="North")
    await produce(raw_producer, topic_prefix, known)
    assert await wait_for(lambda: known.mention_id in stored_ids(engine))
    assert "district-north" in {q["queue_id"] for q in list_queues(engine)}


async def test_a_record_the_database_refuses_is_dead_lettered_and_the_rest_are_stored(
    running, raw_producer, topic_prefix, topic_reader
):
    settings, engine = running
    # Neither passes for bad at decoding or routing; PostgreSQL refuses both at the insert:
    # text cannot hold NUL, and a ruleset version longer than its 64-character column.
    nul = classified("nul", Urgency.LOW, text="help\x00 someone fell in the river")
    long_version = classified("long", Urgency.LOW, ruleset="v" * 100)
    good = [classified(f"good-{n}", Urgency.LOW) for n in range(4)]
    await produce(raw_producer, topic_prefix, good[0], nul, good[1], long_version, good[2])

    want = {g.mention_id for g in good[:3]}
    assert await wait_for(lambda: stored_ids(engine) == want)
    letters = await topic_reader.read(DEADLETTER.name(topic_prefix), count=2, timeout=30)
    dead = {d.mention_id: d for d in (DeadLetter.model_validate_json(r.value) for r in letters)}
    assert set(dead) == {nul.mention_id, long_version.mention_id}
    for letter in dead.values():
        assert (letter.stage, letter.reason, letter.source_topic) == (
            "router",
            "store_error",
            CLASSIFIED.name(topic_prefix),
        )
        assert letter.partition == 0 and letter.raw_payload
    assert "DataError" in dead[nul.mention_id].error
    assert "too long" in dead[long_version.mention_id].error
    assert "help" not in dead[nul.mention_id].error  # the reason, not the mention's text

    # The consumer keeps flowing and moves its offsets past the refused records.
    await produce(raw_producer, topic_prefix, good[3])
    assert await wait_for(lambda: good[3].mention_id in stored_ids(engine))
    deadline = time.monotonic() + 20
    while await committed(settings, settings.router_group_id) != 6:
        assert time.monotonic() < deadline, "offsets did not move past the refused records"
        await asyncio.sleep(0.3)
