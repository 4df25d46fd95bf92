"""Transfers over the real API on PostgreSQL: an officer moves items only where
the shipped policy's `transfers` allows; anything else (a critical item, anything
out of `emergency`) is a 403 naming the destination, and a supervisor may."""

import pytest

pytestmark = pytest.mark.postgres


@pytest.fixture
def desk(engine, client, add_officer, put_items, make_item):
    """Items in emergency and general; an officer and a supervisor in both (and traffic)."""
    ids = put_items(
        engine,
        make_item("crit", queue="emergency", urgency="critical", rank=0),
        make_item("norm", queue="general"),
        make_item("high", queue="general", urgency="high", rank=1, minutes=1),
    )
    queues = ["emergency", "general", "traffic", "professional-standards"]
    _, officer = add_officer(client, queues)
    _, supervisor = add_officer(client, queues, role="supervisor")
    return ids, officer, supervisor


def where(client, admin_headers, item_id):
    return client.get(f"/v1/items/{item_id}", headers=admin_headers).json()["queue_id"]


def test_an_officer_cannot_move_a_critical_item_out_of_emergency(client, admin_headers, desk):
    ids, officer, supervisor = desk
    item = ids["crit"]
    answer = client.post(
        f"/v1/items/{item}/transfer",
        json={"queue_id": "general", "reason": "not really urgent"},
        headers=officer,
    )
    assert answer.status_code == 403, answer.text
    problem = answer.json()
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert "'general'" in problem["detail"] and "supervisor" in problem["detail"]
    assert problem["errors"][0]["field"] == "body.queue_id"
    assert where(client, admin_headers, item) == "emergency"
    # Claiming it first changes nothing.
    assert client.post(f"/v1/items/{item}/claim", headers=officer).status_code == 200
    again = client.post(f"/v1/items/{item}/transfer", json={"queue_id": "traffic"}, headers=officer)
    assert again.status_code == 403, again.text
    assert where(client, admin_headers, item) == "emergency"

    moved = client.post(
        f"/v1/items/{item}/transfer", json={"queue_id": "general"}, headers=supervisor
    )
    assert moved.status_code == 200, moved.text
    assert where(client, admin_headers, item) == "general"


def test_an_officer_moves_items_only_to_the_destinations_the_policy_allows(
    client, admin_headers, desk
):
    ids, officer, _ = desk
    ok = client.post(
        f"/v1/items/{ids['norm']}/transfer", json={"queue_id": "traffic"}, headers=officer
    )
    assert ok.status_code == 200, ok.text
    assert where(client, admin_headers, ids["norm"]) == "traffic"
    # Raising an item to emergency is allowed; burying it in professional standards is not.
    up = client.post(
        f"/v1/items/{ids['high']}/transfer", json={"queue_id": "emergency"}, headers=officer
    )
    assert up.status_code == 200, up.text
    sideways = client.post(
        f"/v1/items/{ids['norm']}/transfer",
        json={"queue_id": "professional-standards"},
        headers=officer,
    )
    assert sideways.status_code == 403, sideways.text
    assert "'professional-standards'" in sideways.json()["detail"]
    assert where(client, admin_headers, ids["norm"]) == "traffic"
    # Once in emergency, it stays there unless a supervisor moves it.
    back = client.post(
        f"/v1/items/{ids['high']}/transfer", json={"queue_id": "general"}, headers=officer
    )
    assert back.status_code == 403, back.text
    assert where(client, admin_headers, ids["high"]) == "emergency"
