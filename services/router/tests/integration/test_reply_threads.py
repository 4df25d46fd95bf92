"""A reply's whole round trip through the real broker and PostgreSQL, on the router's side:
the hand-over published on `replies.v1`, the responder's report read from
`replies.outcomes.v1`, then the platform bringing our post back (dropped: an echo)
and the citizen answering it (joined to the item's thread, reopening it, once)."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from conftest import wait_for
from switchboard_router.db.tables import answers, items
from switchboard_router.kafka.consumer import RouterConsumer
from switchboard_router.kafka.outcomes import OutcomeConsumer
from switchboard_router.kafka.relay import relay_batch
from switchboard_router.replies import delivery
from switchboard_router.routing.policy import Policy
from switchboard_router.settings import RouterSettings
from switchboard_shared.events import (
    Classification,
    MentionClassified,
    MentionIn,
    Reference,
    ReplyOutcome,
    ReplyRequested,
    ReplyStatus,
    Urgency,
    utc_now,
)
from switchboard_shared.kafka import ensure_topics, new_producer
from switchboard_shared.topics import ALL, CLASSIFIED, REPLIES, REPLY_OUTCOMES

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]


def classified(source_id, text, *, answers_post=None):
    mention = MentionIn(
        source="x",
        source_id=source_id,
        text=text,
        created_at="2026-12-01T08:00:00Z",
        references=(Reference(kind="reply", source_id=answers_post),) if answers_post else (),
    )
    return MentionClassified(
        mention_id=mention.mention_id,
        received_at=utc_now(),
        mention=mention,
        classification=Classification(
            urgency=Urgency.NORMAL, score=0.7, topics=("information_request",), ruleset_version="r1"
        ),
    )


def count(engine, table, *where):
    with engine.begin() as conn:
        return conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one()


async def test_a_sent_reply_echoed_back_is_dropped_and_the_citizens_answer_reopens_its_item(
    client, engine, add_officer, kafka_bootstrap, topic_prefix, raw_producer, topic_reader
):
    settings = RouterSettings(
        kafka_bootstrap_servers=kafka_bootstrap,
        topic_prefix=topic_prefix,
        database_url=str(engine.url),
        router_group_id=f"{topic_prefix}router",
    )
    await ensure_topics(settings, ALL)
    _, officer_h = add_officer(client, ["community-engagement"])
    _, supervisor_h = add_officer(client, ["community-engagement"], role="supervisor")

    router = RouterConsumer(settings, engine, Policy.load())
    outcomes = OutcomeConsumer(settings, engine)
    router.start()
    outcomes.start()
    try:
        question = classified("1500", "When does the station open?")
        await raw_producer.send_and_wait(
            CLASSIFIED.name(topic_prefix), question.model_dump_json().encode()
        )
        assert await wait_for(lambda: count(engine, items) == 1)
        with engine.begin() as conn:
            item_id = conn.execute(select(items.c.id)).scalar_one()

        reply = client.post(
            f"/v1/items/{item_id}/replies",
            json={"text": "The front desk opens at 8."},
            headers=officer_h,
        ).json()
        client.post(f"/v1/replies/{reply['reply_id']}/approve", headers=supervisor_h)
        assert delivery.dispatch_due(engine, now=datetime.now(UTC) + timedelta(seconds=11)) == 1
        producer = new_producer(settings, client_id="test-relay")
        await producer.start()
        try:
            while await relay_batch(settings, engine, producer):
                pass
        finally:
            await producer.stop()
        [record] = await topic_reader.read(REPLIES.name(topic_prefix), count=1, timeout=20)
        request = ReplyRequested.model_validate_json(record.value)
        assert (request.reply_id, request.in_reply_to, request.attempt) == (
            reply["reply_id"],
            "1500",
            1,
        )
        assert record.key == question.mention_id.encode()

        # The responder says it is posted as 1501 (twice: at-least-once).
        sent = ReplyOutcome(
            reply_id=request.reply_id,
            mention_id=request.mention_id,
            item_id=request.item_id,
            attempt=1,
            status=ReplyStatus.SENT,
            channel="x",
            platform_post_id="1501",
        )
        for _ in range(2):
            await raw_producer.send_and_wait(
                REPLY_OUTCOMES.name(topic_prefix),
                sent.model_dump_json().encode(),
                key=sent.mention_id.encode(),
            )
        await raw_producer.send_and_wait(REPLY_OUTCOMES.name(topic_prefix), b"not json", key=b"k")

        def shown():
            answer = client.get(f"/v1/items/{item_id}/replies", headers=officer_h).json()
            return answer

        assert await wait_for(lambda: shown()["replies"][0]["status"] == "sent")
        assert shown()["replies"][0]["platform_post_id"] == "1501"

        claimed = client.post(f"/v1/items/{item_id}/claim", headers=officer_h)
        assert claimed.status_code == 200, claimed.text
        resolved = client.post(
            f"/v1/items/{item_id}/resolve", json={"disposition": "actioned"}, headers=officer_h
        )
        assert resolved.json()["status"] == "resolved"

        # The connector brings our own post back; the citizen answers it; someone else writes.
        echo = classified("1501", "The front desk opens at 8.")
        answer = classified("1502", "Thanks! And on Sundays?", answers_post="1501")
        other = classified("1503", "Is the road to the harbour open?")
        for event in (echo, answer, other, answer):  # the last is a redelivery
            await raw_producer.send_and_wait(
                CLASSIFIED.name(topic_prefix), event.model_dump_json().encode()
            )
        assert await wait_for(lambda: count(engine, items) == 2 and count(engine, answers) == 1)
        with engine.begin() as conn:
            mentions = set(conn.scalars(select(items.c.mention_id)))
        assert mentions == {question.mention_id, other.mention_id}  # no item for echo or answer
        thread = shown()
        assert [(a["mention_id"], a["reply_id"], a["text"]) for a in thread["answers"]] == [
            (answer.mention_id, reply["reply_id"], "Thanks! And on Sundays?")
        ]
        item = client.get(f"/v1/items/{item_id}", headers=officer_h).json()
        assert item["status"] == "open", item["audit"][-3:]  # reopened for someone to answer
        assert [a["action"] for a in item["audit"]][-1] == "citizen_answered"
    finally:
        await router.stop()
        await outcomes.stop()
