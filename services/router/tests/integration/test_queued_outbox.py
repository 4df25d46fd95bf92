"""The `queued` step goes through the outbox like every later step: the transaction
that stores an item holds its audit row and its routed event, and the relay
publishes that event even when no consumer is left to do it."""

import json

import pytest
from sqlalchemy import select

from conftest import wait_for
from switchboard_router.db.tables import audit, outbox
from switchboard_router.kafka.relay import OutboxRelay, backlog, relay_batch
from switchboard_router.settings import RouterSettings
from switchboard_shared.events import MentionRouted
from switchboard_shared.kafka import ensure_topics, new_producer
from switchboard_shared.topics import ALL, ROUTED


def stored_steps(engine):
    """(audit actions, routed events in the outbox) in the order they were written."""
    with engine.connect() as conn:
        actions = [r.action for r in conn.execute(select(audit.c.action).order_by(audit.c.id))]
        events = [
            json.loads(r.payload)
            for r in conn.execute(
                select(outbox.c.payload)
                .where(outbox.c.topic == ROUTED.base_name)
                .order_by(outbox.c.id)
            )
        ]
    return actions, events


@pytest.mark.postgres
def test_storing_an_item_writes_its_queued_audit_row_and_event_and_a_replay_only_announces_it(
    engine, put_items, make_item
):
    item_id = put_items(engine, make_item("m1"))["m1"]
    actions, events = stored_steps(engine)
    assert actions == ["queued"]
    [event] = events
    assert (event["action"], event["item_id"], event["mention_id"]) == ("queued", item_id, "m1")
    assert (event["actor"], event["status"], event["queue_id"]) == ("router", "open", "general")
    assert event["details"] == {"rule": "traffic", "policy_version": "p1", "watch_queues": []}

    assert put_items(engine, make_item("m1")) == {"m1": item_id}  # a redelivery
    actions, events = stored_steps(engine)
    assert actions == ["queued"]
    assert [(e["action"], e["item_id"]) for e in events] == [("queued", item_id)] * 2


async def relay_settings(engine, kafka_bootstrap, topic_prefix):
    """A router's settings on the test broker and database, its topics created."""
    settings = RouterSettings(
        kafka_bootstrap_servers=kafka_bootstrap,
        topic_prefix=topic_prefix,
        database_url=str(engine.url),
    )
    await ensure_topics(settings, ALL)
    return settings


@pytest.mark.kafka
@pytest.mark.postgres
async def test_a_queued_event_left_in_the_outbox_is_published_by_the_relay(
    engine, put_items, make_item, kafka_bootstrap, topic_prefix, topic_reader
):
    settings = await relay_settings(engine, kafka_bootstrap, topic_prefix)
    item_id = put_items(engine, make_item("m1"))["m1"]  # stored while no relay ran
    assert backlog(engine) == 1
    producer = new_producer(settings, client_id="test-relay")
    await producer.start()
    relay = OutboxRelay(settings, engine, lambda: producer)
    relay.start()
    try:
        relay.wake()
        [record] = await topic_reader.read(ROUTED.name(topic_prefix), count=1, timeout=20)
        assert await wait_for(lambda: backlog(engine) == 0)  # deleted once Kafka acknowledged it
    finally:
        await relay.stop()
        await producer.stop()
    event = MentionRouted.model_validate_json(record.value)
    assert (event.action, event.item_id, event.mention_id) == ("queued", item_id, "m1")


@pytest.mark.kafka
@pytest.mark.postgres
async def test_relaying_by_keys_sends_only_those_mentions_events_and_leaves_the_rest(
    engine, put_items, make_item, kafka_bootstrap, topic_prefix, topic_reader
):
    # The consumer relays its own batch's events this way, so an outbox backlog of
    # other events (an SLA storm's breaches) does not go out before them.
    settings = await relay_settings(engine, kafka_bootstrap, topic_prefix)
    put_items(engine, make_item("older"))
    newer_id = put_items(engine, make_item("newer"))["newer"]
    producer = new_producer(settings, client_id="test-relay-keys", linger_ms=0)
    await producer.start()
    try:
        assert await relay_batch(settings, engine, producer, keys=["newer"]) is False
    finally:
        await producer.stop()
    [record] = await topic_reader.read_quiet(ROUTED.name(topic_prefix), settle=3.0)  # only one
    event = MentionRouted.model_validate_json(record.value)
    assert (event.mention_id, event.item_id) == ("newer", newer_id)
    _, left = stored_steps(engine)
    assert [e["mention_id"] for e in left] == ["older"]
