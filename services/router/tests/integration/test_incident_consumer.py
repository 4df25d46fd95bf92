"""Clustering on the consumer path: classified mentions from the real broker are stored
and linked into an incident; a second consumer group replaying every record (a replay
of the whole topic) changes no link."""

import pytest
from sqlalchemy import func, select

from conftest import classified_event, wait_for
from switchboard_router import metrics
from switchboard_router.db.engine import make_engine, migrate
from switchboard_router.db.tables import audit, incident_members, incidents, items
from switchboard_router.items.service import count_items
from switchboard_router.kafka.consumer import RouterConsumer
from switchboard_router.routing.policy import Policy
from switchboard_router.settings import RouterSettings
from switchboard_shared.events import Urgency
from switchboard_shared.kafka import ensure_topics
from switchboard_shared.topics import ALL, CLASSIFIED

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

REPORTS = [
    "Huge fire at the warehouse on Dock Street, black smoke everywhere",
    "Fire engines racing to the warehouse fire on Dock Street",
    "There is a massive fire at the Dock Street warehouse right now",
]


def snapshot(engine):
    with engine.connect() as conn:
        return (
            sorted(
                conn.execute(
                    select(
                        incident_members.c.item_id,
                        incident_members.c.incident_id,
                        incident_members.c.link,
                    )
                ).all()
            ),
            conn.scalar(select(func.count()).select_from(incidents)),
            conn.scalar(
                select(func.count()).select_from(audit).where(audit.c.action.like("incident_%"))
            ),
            conn.scalar(
                select(func.count()).select_from(items).where(items.c.clustered_at.is_(None))
            ),
        )


async def test_consumed_mentions_are_clustered_and_a_full_replay_changes_no_link(
    kafka_bootstrap, topic_prefix, database_url, raw_producer
):
    settings = RouterSettings(
        kafka_bootstrap_servers=kafka_bootstrap,
        topic_prefix=topic_prefix,
        database_url=database_url,
        router_group_id=f"{topic_prefix}router",
    )
    await ensure_topics(settings, ALL)
    engine = make_engine(database_url)
    migrate(engine)
    topic = CLASSIFIED.name(topic_prefix)
    events = [
        classified_event(f"fire-{n}", Urgency.HIGH, ("fire",), text=text, district="harbour")
        for n, text in enumerate(REPORTS)
    ] + [
        classified_event(
            "dog",
            Urgency.LOW,
            ("fire",),
            text="Lost dog near the marina, brown terrier",
            district="harbour",
        )
    ]
    for event in events:
        await raw_producer.send_and_wait(
            topic, event.model_dump_json().encode(), key=event.mention_id.encode()
        )
    consumer = RouterConsumer(settings, engine, Policy.load())
    consumer.start()
    try:
        assert await wait_for(lambda: snapshot(engine)[3] == 0 and count_items(engine) == 4)
    finally:
        await consumer.stop()
    members, incident_count, linked_rows, unclustered = snapshot(engine)
    with engine.connect() as conn:
        by_mention = dict(conn.execute(select(items.c.id, items.c.mention_id)).all())
    assert incident_count == 1
    assert sorted(by_mention[item_id] for item_id, _, _ in members) == sorted(
        e.mention_id for e in events[:3]
    )
    assert {link for _, _, link in members} == {"automatic"}
    assert linked_rows == 3 and unclustered == 0

    # Another group reads the topic from the start: every record is delivered again.
    replay = RouterConsumer(
        settings.model_copy(update={"router_group_id": f"{topic_prefix}replay"}),
        engine,
        Policy.load(),
    )
    duplicates = metrics.DUPLICATES._value.get()
    replay.start()
    try:
        assert await wait_for(lambda: metrics.DUPLICATES._value.get() >= duplicates + 4)
    finally:
        await replay.stop()
    assert snapshot(engine) == (members, incident_count, linked_rows, unclustered)
    engine.dispose()
