"""The router's store and API on a real PostgreSQL."""

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from switchboard_router import store
from switchboard_router.app import create_app
from switchboard_router.routing import Policy
from switchboard_router.settings import RouterSettings

pytestmark = pytest.mark.postgres

T0 = datetime(2026, 11, 29, 22, 0, tzinfo=UTC)


def new_item(mention_id, *, queue="general", urgency="normal", rank=2, minutes=0):
    return store.NewItem(
        mention_id=mention_id,
        queue_id=queue,
        urgency=urgency,
        urgency_rank=rank,
        score=0.6,
        topics=["traffic"],
        reasons=[{"rule": "topics.traffic", "label": "traffic", "matched": ["crash on"]}],
        rule="traffic",
        ruleset_version="r1",
        policy_version="p1",
        source="x",
        source_id=mention_id,
        text=f"text of {mention_id}",
        mention={"source": "x"},
        received_at=T0 + timedelta(minutes=minutes),
        classified_at=T0 + timedelta(minutes=minutes, seconds=1),
    )


@pytest.fixture
def engine(database_url):
    engine = store.make_engine(database_url)
    store.migrate(engine)
    yield engine
    engine.dispose()


def test_saving_the_same_mention_twice_keeps_one_item(engine):
    first = store.save_items(engine, new_items=[new_item("m1"), new_item("m2")])
    again = store.save_items(engine, new_items=[new_item("m1", queue="other")])
    assert sorted(i.created for i in first) == [True, True]
    assert [(i.mention_id, i.created, i.queue_id) for i in again] == [("m1", False, "general")]
    assert store.count_items(engine) == 2


def test_migrations_run_twice_without_harm(engine):
    store.migrate(engine)
    store.save_items(engine, new_items=[new_item("m1")])
    assert store.count_items(engine) == 1


def test_queue_pages_are_most_urgent_first_then_oldest_and_cover_everything_once(engine):
    items = [
        new_item("old-low", urgency="low", rank=3, minutes=0),
        new_item("new-critical", urgency="critical", rank=0, minutes=9),
        new_item("old-critical", urgency="critical", rank=0, minutes=1),
        new_item("mid-normal", urgency="normal", rank=2, minutes=5),
        new_item("old-normal", urgency="normal", rank=2, minutes=2),
    ]
    store.save_items(engine, new_items=items)
    settings = RouterSettings(database_url=str(engine.url))
    with TestClient(create_app(settings, engine, Policy.load(), consume=False)) as client:
        seen, cursor = [], None
        while True:
            params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
            page = client.get("/v1/queues/general/items", params=params).json()
            seen += [item["mention_id"] for item in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert seen == ["old-critical", "new-critical", "old-normal", "mid-normal", "old-low"]
        queues = client.get("/v1/queues").json()["queues"]
        assert queues == [
            {
                "queue_id": "general",
                "depth": 5,
                "oldest_received_at": queues[0]["oldest_received_at"],
                "top_urgency_rank": 0,
            }
        ]
        assert datetime.fromisoformat(queues[0]["oldest_received_at"]) == T0


def test_unknown_queue_is_404_and_a_bad_cursor_422_naming_it(engine):
    settings = RouterSettings(database_url=str(engine.url))
    with TestClient(create_app(settings, engine, Policy.load(), consume=False)) as client:
        missing = client.get("/v1/queues/nowhere/items")
        assert missing.status_code == 404
        assert missing.headers["content-type"].startswith("application/problem+json")
        store.save_items(engine, new_items=[new_item("m1")])
        bad = client.get("/v1/queues/general/items", params={"cursor": "garbage!"})
        assert bad.status_code == 422
        assert bad.json()["errors"][0]["field"] == "query.cursor"
        too_many = client.get("/v1/queues/general/items", params={"limit": 5000})
        assert too_many.status_code == 422
        assert too_many.json()["errors"][0]["field"] == "query.limit"
