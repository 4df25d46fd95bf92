"""The router as a process: real Kafka and PostgreSQL, the router started (and restarted
mid-test) with `python -m switchboard_router`."""

import asyncio
import time
from datetime import datetime

import httpx
import pytest

from conftest import classified_event, poll
from switchboard_router.db.engine import make_engine
from switchboard_router.items.service import count_items
from switchboard_shared.events import (
    MentionEscalated,
    MentionRouted,
    Urgency,
)
from switchboard_shared.topics import CLASSIFIED, ESCALATED, ROUTED

pytestmark = [pytest.mark.e2e, pytest.mark.kafka, pytest.mark.postgres]

ADMIN_TOKEN = "live-admin-token"
ADMIN = {"authorization": f"Bearer {ADMIN_TOKEN}"}


def classified(source_id, urgency, topics=("other",), district=None):
    return classified_event(
        source_id, urgency, topics, text=f"mention {source_id}", district=district
    )


async def send(producer, prefix, *events):
    for event in events:
        await producer.send_and_wait(
            CLASSIFIED.name(prefix), event.model_dump_json().encode(), key=event.mention_id.encode()
        )


def queue_of(url, mention_id):
    for queue in httpx.get(f"{url}/v1/queues", headers=ADMIN).json()["queues"]:
        page = httpx.get(f"{url}/v1/queues/{queue['queue_id']}/items", headers=ADMIN).json()
        for item in page["items"]:
            if item["mention_id"] == mention_id:
                return queue["queue_id"], item
    return None


def router_env(kafka_bootstrap, topic_prefix, database_url, port, **extra):
    return {
        "SWITCHBOARD_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "SWITCHBOARD_TOPIC_PREFIX": topic_prefix,
        "SWITCHBOARD_ROUTER_PORT": str(port),
        "SWITCHBOARD_ROUTER_GROUP_ID": f"{topic_prefix}router",
        "SWITCHBOARD_DATABASE_URL": database_url,
        "SWITCHBOARD_ROUTER_BOOTSTRAP_ADMIN_TOKEN": ADMIN_TOKEN,
        **extra,
    }


@pytest.fixture
def start_router(kafka_bootstrap, topic_prefix, database_url, port_factory, service_runner):
    """Starts `python -m switchboard_router` (each time on the same port and store) and
    waits for /readyz; returns its URL and process."""
    port = port_factory()
    url = f"http://127.0.0.1:{port}"

    async def start(**extra):
        env = router_env(kafka_bootstrap, topic_prefix, database_url, port, **extra)
        router = service_runner("switchboard_router", env)
        await asyncio.to_thread(router.wait_ready, f"{url}/readyz")
        return url, router

    return start


async def test_routing_by_urgency_topic_and_district_and_replay_adds_nothing(
    start_router, topic_prefix, database_url, raw_producer, topic_reader
):
    url, router = await start_router()
    events = {
        "emergency": classified("c1", Urgency.CRITICAL, ("active_threat",), district="North"),
        "district-south": classified("h1", Urgency.HIGH, ("missing_person",), district="South"),
        "priority": classified("h2", Urgency.HIGH, ("missing_person",)),
        "traffic": classified("n1", Urgency.NORMAL, ("traffic",), district="North"),
        "general": classified("l1", Urgency.LOW),
    }
    await send(raw_producer, topic_prefix, *events.values())
    for queue, event in events.items():
        found = await asyncio.to_thread(poll, lambda e=event: queue_of(url, e.mention_id))
        assert found is not None, router.log_tail()
        assert found[0] == queue
    await send(raw_producer, topic_prefix, *events.values())  # a replay
    routed = await topic_reader.read(ROUTED.name(topic_prefix), count=10, timeout=30)
    queued = [MentionRouted.model_validate_json(r.value) for r in routed]
    assert {e.mention_id for e in queued} == {e.mention_id for e in events.values()}
    engine = make_engine(database_url)
    try:
        assert count_items(engine) == len(events)
    finally:
        engine.dispose()


async def test_a_breach_escalates_in_time_even_when_the_router_was_down_at_the_deadline(
    start_router, topic_prefix, raw_producer, topic_reader, tmp_path
):
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        """
version: "live-1"
default_queue: general
sla:
  - name: fast
    claim_seconds: 3
    ladder:
      - {after_seconds: 0, escalate: true, notify: duty}
      - {after_seconds: 2, raise_priority: 1, escalate: true}
"""
    )
    url, first = await start_router(SWITCHBOARD_ROUTER_POLICY_PATH=str(policy))
    event = classified("b1", Urgency.NORMAL)
    await send(raw_producer, topic_prefix, event)
    found = await asyncio.to_thread(poll, lambda: queue_of(url, event.mention_id))
    assert found is not None, first.log_tail()
    due = found[1]["sla_due_at"]
    first.stop()
    # Let the deadline pass while no router runs.
    deadline = datetime.fromisoformat(due).timestamp() + 0.5
    await asyncio.to_thread(poll, lambda: time.time() > deadline, 30)
    await start_router(SWITCHBOARD_ROUTER_POLICY_PATH=str(policy))
    records = await topic_reader.read(ESCALATED.name(topic_prefix), count=2, timeout=30)
    escalations = [MentionEscalated.model_validate_json(r.value) for r in records]
    assert [(e.tier, e.notify, e.breach) for e in escalations] == [
        (1, "duty", "claim"),
        (2, None, "claim"),
    ]
    assert all(e.mention_id == event.mention_id for e in escalations)
    item = httpx.get(f"{url}/v1/items/{found[1]['item_id']}", headers=ADMIN).json()
    assert item["escalation_tier"] == 2
    assert [a["action"] for a in item["audit"]] == [
        "queued",
        "sla_breached",
        "escalated",
        "escalated",
    ]


async def test_an_expired_lease_returns_the_item_and_says_so_on_the_routed_topic(
    start_router, topic_prefix, raw_producer, topic_reader
):
    url, router = await start_router(SWITCHBOARD_ROUTER_LEASE_SECONDS="2")
    event = classified("e1", Urgency.LOW)
    await send(raw_producer, topic_prefix, event)
    found = await asyncio.to_thread(poll, lambda: queue_of(url, event.mention_id))
    assert found is not None, router.log_tail()
    officer = httpx.post(f"{url}/v1/officers", json={"name": "Ann"}, headers=ADMIN).json()[
        "officer_id"
    ]
    httpx.post(f"{url}/v1/queues/general/members", json={"officer_id": officer}, headers=ADMIN)
    token = httpx.post(f"{url}/v1/officers/{officer}/tokens", headers=ADMIN).json()["token"]
    item_id = found[1]["item_id"]
    claimed = httpx.post(
        f"{url}/v1/items/{item_id}/claim", headers={"authorization": f"Bearer {token}"}
    )
    assert claimed.status_code == 200, claimed.text

    def reopened():
        item = httpx.get(f"{url}/v1/items/{item_id}", headers=ADMIN).json()
        return item if item["status"] == "open" else None

    item = await asyncio.to_thread(poll, reopened, 30)
    assert item is not None and item["assignee"] is None
    records = await topic_reader.read(ROUTED.name(topic_prefix), count=3, timeout=30)
    actions = [MentionRouted.model_validate_json(r.value).action.value for r in records]
    assert actions == ["queued", "claimed", "lease_expired"]
