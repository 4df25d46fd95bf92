"""The notifier on the real broker, PostgreSQL and the channels' stand-ins: one page per
channel, never two, suppressed escalations counted, acknowledgements cancel, failures retried."""

from datetime import UTC, datetime

import pytest
from prometheus_client import REGISTRY

from conftest import wait_for
from switchboard_notifier import store
from switchboard_notifier.store import SendState
from switchboard_shared.events import MentionRouted, RoutedAction
from switchboard_shared.kafka import encode
from switchboard_shared.topics import ROUTED

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]


def sample(name, **labels):
    return REGISTRY.get_sample_value(name, labels) or 0.0


def delivered(engine):
    return store.counts_by_state(engine).get(SendState.DELIVERED, 0)


async def test_an_escalation_pages_once_on_each_channel(
    make_escalation, notifier_settings, run_notifier, publish, deliveries, smtp
):
    event = make_escalation()
    async with run_notifier(notifier_settings()) as notifier:
        await publish(event)
        assert await wait_for(lambda: delivered(notifier.engine) == 4), store.counts_by_state(
            notifier.engine
        )
    seen = await deliveries()
    assert [len(seen["by_key"][channel]) for channel in ("webhook", "pagerduty", "sms")] == [
        1,
        1,
        1,
    ]
    assert seen["bad_signatures"] == 0
    (mail,) = smtp.messages
    assert mail.recipients == ("deputy@test.example",)
    assert f"item {event.item_id}" in mail.subject
    (pager,) = [d for d in seen["deliveries"] if d["channel"] == "pagerduty"]
    assert pager["body"]["payload"]["severity"] == "critical"
    assert pager["body"]["dedup_key"].startswith(f"item:{event.item_id}|")


async def test_a_replayed_escalation_pages_nobody_again(
    make_escalation, notifier_settings, run_notifier, publish, deliveries
):
    event = make_escalation()
    async with run_notifier(notifier_settings()) as notifier:
        await publish(event)
        assert await wait_for(lambda: delivered(notifier.engine) == 4)
        consumed = sample("switchboard_notifier_consumed_total")
        await publish(event)
        await publish(event)
        assert await wait_for(lambda: sample("switchboard_notifier_consumed_total") >= consumed + 2)
        # Both replays are read and store nothing; give the scheduler passes to prove it.
        passes = notifier.scheduler.passes
        assert await wait_for(lambda: notifier.scheduler.passes >= passes + 5)
        assert store.counts_by_state(notifier.engine) == {SendState.DELIVERED: 4}
    seen = await deliveries()
    assert sum(len(keys) for keys in seen["by_key"].values()) == 3
    assert all(count == 1 for keys in seen["by_key"].values() for count in keys.values())


async def test_fifty_escalations_of_one_incident_page_at_1_10_and_50(
    make_escalation, notifier_settings, run_notifier, publish, deliveries
):
    suppressed_before = sample("switchboard_notifier_suppressed_total", reason="same_wave")
    async with run_notifier(notifier_settings()) as notifier:
        # One key, one partition: the counts arrive in order, so the waves are exactly the
        # steps. (Keyed by mention, as the router sends them, they spread over six
        # partitions; read out of order, a count of 50 before 10 pages at 50 and then
        # suppresses 10 — two pages, not three. That made this test flaky under load.)
        for count in range(1, 51):
            escalation = make_escalation(incident_id=4242, member_count=count)
            await publish(encode(escalation), key="incident-4242")
        assert await wait_for(
            lambda: store.suppressed_count(notifier.engine, group="incident:4242") == 47
        )
        assert await wait_for(lambda: delivered(notifier.engine) == 12)
    seen = await deliveries()
    waves = {key.split("|")[1] for key in seen["by_key"]["pagerduty"]}
    assert waves == {"critical@1", "critical@10", "critical@50"}
    assert (
        sample("switchboard_notifier_suppressed_total", reason="same_wave") - suppressed_before
        == 47
    )


async def test_an_acknowledgement_cancels_the_pending_steps(
    make_escalation, notifier_settings, run_notifier, publish, smtp
):
    event = make_escalation()
    group = f"item:{event.item_id}"
    async with run_notifier(notifier_settings(email_after=3600)) as notifier:
        await publish(event)
        assert await wait_for(lambda: delivered(notifier.engine) == 3)
        assert store.counts_by_state(notifier.engine)[SendState.PENDING] == 1
        cancelled = store.acknowledge(
            notifier.engine, group=group, by="officer-7", at=datetime.now(UTC)
        )
        assert cancelled == 1
        assert store.counts_by_state(notifier.engine) == {
            SendState.DELIVERED: 3,
            SendState.CANCELLED: 1,
        }
        assert (
            store.acknowledge(notifier.engine, group=group, by="officer-7", at=datetime.now(UTC))
            == 0
        )
    assert smtp.messages == []


async def test_a_failing_channel_is_retried_and_counted(
    make_escalation, notifier_settings, run_notifier, publish, deliveries, fault
):
    await fault("500", channel="sms", count=2)
    await fault("429", channel="pagerduty", count=1)
    retries_before = sample("switchboard_notifier_sends_total", channel="sms", outcome="retry")
    async with run_notifier(notifier_settings()) as notifier:
        await publish(make_escalation())
        assert await wait_for(lambda: delivered(notifier.engine) == 4)
    seen = await deliveries()
    assert seen["requests"]["sms"] == 3
    assert seen["requests"]["pagerduty"] == 2
    assert len(seen["by_key"]["sms"]) == 1
    assert (
        sample("switchboard_notifier_sends_total", channel="sms", outcome="retry") - retries_before
        == 2
    )


async def test_a_channel_that_keeps_failing_ends_failed_and_raises_its_gauge(
    make_escalation, notifier_settings, run_notifier, publish, fault
):
    await fault("500", channel="sms", count=100)
    async with run_notifier(notifier_settings(notifier_max_attempts=3)) as notifier:
        await publish(make_escalation())
        assert await wait_for(
            lambda: store.counts_by_state(notifier.engine).get(SendState.FAILED, 0) == 1
        )
    assert sample("switchboard_notifier_channel_consecutive_failures", channel="sms") >= 3


async def test_a_poison_record_goes_to_the_dead_letter_topic(
    make_escalation, notifier_settings, run_notifier, publish, topic_reader, topic_prefix
):
    from switchboard_shared.topics import DEADLETTER

    async with run_notifier(notifier_settings()):
        await publish(b"not json")
        (record,) = await topic_reader.read(DEADLETTER.name(topic_prefix), count=1)
    assert b"not_json" in record.value


async def test_the_router_acknowledging_the_item_cancels_its_pending_pages(
    make_escalation, notifier_settings, run_notifier, publish, smtp, raw_producer, topic_prefix
):
    event = make_escalation()
    async with run_notifier(notifier_settings(email_after=3600)) as notifier:
        await publish(event)
        assert await wait_for(lambda: delivered(notifier.engine) == 3)
        assert store.counts_by_state(notifier.engine)[SendState.PENDING] == 1
        before = sample("switchboard_notifier_cancelled_total")

        def step(action):
            return MentionRouted(
                mention_id=event.mention_id,
                item_id=event.item_id,
                queue_id=event.queue_id,
                action=action,
                rule="r",
                urgency=event.urgency,
                actor="officer-7",
            )

        routed = ROUTED.name(topic_prefix)
        # A claim is not an acknowledgement: the ladder goes on.
        for value in (
            encode(step(RoutedAction.CLAIMED)),
            b"not json",
            encode(step(RoutedAction.ACKNOWLEDGED)),
        ):
            await raw_producer.send_and_wait(routed, value, key=event.mention_id.encode())
        assert await wait_for(
            lambda: store.counts_by_state(notifier.engine).get(SendState.CANCELLED) == 1
        )
        assert store.counts_by_state(notifier.engine) == {
            SendState.DELIVERED: 3,
            SendState.CANCELLED: 1,
        }
        assert sample("switchboard_notifier_cancelled_total") == before + 1
    assert smtp.messages == []
