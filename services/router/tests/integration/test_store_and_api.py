"""The router's store and API on a real PostgreSQL."""

from datetime import datetime

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from switchboard_router.db.engine import migrate
from switchboard_router.items.service import count_items
from switchboard_router.items.steps import save_items

pytestmark = pytest.mark.postgres


def test_saving_the_same_mention_twice_keeps_one_item(engine, make_item):
    first = save_items(engine, new_items=[make_item("m1"), make_item("m2")])
    again = save_items(engine, new_items=[make_item("m1", queue="other")])
    assert sorted(i.created for i in first) == [True, True]
    assert [(i.mention_id, i.created, i.queue_id) for i in again] == [("m1", False, "general")]
    assert count_items(engine) == 2


def test_migrations_run_twice_without_harm(engine, make_item):
    migrate(engine)
    save_items(engine, new_items=[make_item("m1")])
    assert count_items(engine) == 1


def test_the_audit_trail_refuses_updates_and_deletes(engine, make_item):
    save_items(engine, new_items=[make_item("m1")])
    for statement in ("UPDATE audit SET actor = 'x'", "DELETE FROM audit"):
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
            conn.execute(text(statement))


def test_queue_pages_are_most_urgent_first_then_oldest_and_cover_everything_once(
    engine, client, admin_headers, make_item
):
    items = [
        make_item("old-low", urgency="low", rank=3, minutes=0),
        make_item("new-critical", urgency="critical", rank=0, minutes=9),
        make_item("old-critical", urgency="critical", rank=0, minutes=1),
        make_item("mid-normal", urgency="normal", rank=2, minutes=5),
        make_item("old-normal", urgency="normal", rank=2, minutes=2),
    ]
    save_items(engine, new_items=items)
    seen, cursor = [], None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = client.get("/v1/queues/general/items", params=params, headers=admin_headers).json()
        seen += [item["mention_id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ["old-critical", "new-critical", "old-normal", "mid-normal", "old-low"]
    [queue] = client.get("/v1/queues", headers=admin_headers).json()["queues"]
    assert queue["queue_id"] == "general"
    assert queue["depth"] == 5
    assert queue["depth_by_urgency"] == {"critical": 2, "normal": 2, "low": 1}
    assert queue["top_urgency_rank"] == 0
    assert datetime.fromisoformat(queue["oldest_received_at"]) == items[0].received_at


def test_unknown_queue_is_404_and_a_bad_cursor_422_naming_it(
    engine, client, admin_headers, make_item
):
    missing = client.get("/v1/queues/nowhere/items", headers=admin_headers)
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")
    save_items(engine, new_items=[make_item("m1")])
    bad = client.get(
        "/v1/queues/general/items", params={"cursor": "garbage!"}, headers=admin_headers
    )
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "query.cursor"
    too_many = client.get("/v1/queues/general/items", params={"limit": 5000}, headers=admin_headers)
    assert too_many.status_code == 422
    assert too_many.json()["errors"][0]["field"] == "query.limit"


def test_unknown_body_fields_and_oversized_bodies_are_refused(client, admin_headers):
    extra = client.post(
        "/v1/officers", json={"name": "A", "rank": "sergeant"}, headers=admin_headers
    )
    assert extra.status_code == 422
    assert extra.json()["errors"][0]["field"] == "body.rank"
    huge = client.post("/v1/officers", json={"name": "A" * 200_000}, headers=admin_headers)
    assert huge.status_code == 413
