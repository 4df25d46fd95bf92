"""GET /v1/districts on PostgreSQL: open items per district, only those the caller may see."""

import pytest

pytestmark = pytest.mark.postgres


def _item(make_item, mention_id, queue, district):
    item = make_item(mention_id, queue=queue)
    mention = {"source": "x"} if district is None else {"source": "x", "district": district}
    return item.model_copy(update={"mention": mention})


def _counts(answer):
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["type"] == "FeatureCollection"
    return (
        {f["properties"]["name"]: f["properties"]["open_items"] for f in body["features"]},
        body["unmapped_open_items"],
    )


def test_districts_count_open_items_the_caller_may_see(
    client, engine, add_officer, put_items, make_item, admin_headers
):
    _, officer = add_officer(client, ["district-harbor"])
    add_officer(client, ["emergency"])  # makes the queue the officer is not in
    ids = put_items(
        engine,
        _item(make_item, "m-h1", "district-harbor", "Harbor"),
        _item(make_item, "m-h2", "district-harbor", "harbour"),
        _item(make_item, "m-d1", "district-harbor", "Downtown"),
        _item(make_item, "m-none", "district-harbor", None),
        # In a queue the officer cannot see: counted for the admin only.
        _item(make_item, "m-h3", "emergency", "Harbor"),
        _item(make_item, "m-e1", "emergency", "Eastside"),
    )

    counts, unmapped = _counts(client.get("/v1/districts", headers=officer))
    assert counts == {"Harbor": 2, "Downtown": 1, "Eastside": 0, "Northside": 0}
    assert unmapped == 1

    counts, unmapped = _counts(client.get("/v1/districts", headers=admin_headers))
    assert counts == {"Harbor": 3, "Downtown": 1, "Eastside": 1, "Northside": 0}
    assert unmapped == 1

    # A resolved item is no longer open: it leaves its district's count.
    item_id = ids["m-h1"]
    assert client.post(f"/v1/items/{item_id}/claim", headers=officer).status_code == 200
    resolved = client.post(
        f"/v1/items/{item_id}/resolve", json={"disposition": "actioned"}, headers=officer
    )
    assert resolved.status_code == 200, resolved.text
    counts, _ = _counts(client.get("/v1/districts", headers=officer))
    assert counts["Harbor"] == 1


def test_districts_need_a_token(client):
    answer = client.get("/v1/districts")
    assert answer.status_code == 401
