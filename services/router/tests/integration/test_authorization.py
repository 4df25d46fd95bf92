"""Who may do what: every endpoint refuses a missing or wrong token (401), and an
officer can neither read nor act on an item of a queue they are not in (404,
so ids do not leak); admin endpoints are admin-only (403)."""

import pytest

pytestmark = pytest.mark.postgres

EXPLAIN = {
    "mention": {"source": "x", "source_id": "1", "text": "t", "created_at": "2026-11-29T22:00:00Z"},
    "classification": {"urgency": "low", "score": 0.1, "topics": [], "ruleset_version": "r"},
}

# (method, path, body) for every endpoint that needs a token; {item}, {officer} filled in.
ENDPOINTS = [
    ("GET", "/v1/me", None),
    ("GET", "/v1/queues", None),
    ("POST", "/v1/queues", {"queue_id": "new-queue"}),
    ("PATCH", "/v1/queues/general", {"assignment_mode": "open"}),
    ("GET", "/v1/queues/general/items", None),
    ("GET", "/v1/queues/general/members", None),
    ("POST", "/v1/queues/general/members", {"officer_id": "{officer}"}),
    ("DELETE", "/v1/queues/general/members/{officer}", None),
    ("POST", "/v1/officers", {"name": "X"}),
    ("GET", "/v1/officers", None),
    ("GET", "/v1/officers/{officer}", None),
    ("PATCH", "/v1/officers/{officer}", {"capacity": 3}),
    ("POST", "/v1/officers/{officer}/shift", {"on_duty": True}),
    ("POST", "/v1/officers/{officer}/tokens", None),
    ("DELETE", "/v1/officers/{officer}/tokens/tok_x", None),
    ("GET", "/v1/items/{item}", None),
    ("POST", "/v1/items/{item}/claim", None),
    ("POST", "/v1/items/{item}/heartbeat", None),
    ("POST", "/v1/items/{item}/ack", None),
    ("POST", "/v1/items/{item}/release", None),
    ("POST", "/v1/items/{item}/transfer", {"queue_id": "general"}),
    ("POST", "/v1/items/{item}/resolve", {"disposition": "duplicate"}),
    ("POST", "/v1/items/{item}/notes", {"text": "n"}),
    ("POST", "/v1/items/{item}/feedback", {"urgency": "high"}),
    ("POST", "/v1/routing/explain", EXPLAIN),
    ("GET", "/v1/routing", None),
    ("GET", "/v1/stream", None),
]
ITEM_ENDPOINTS = [e for e in ENDPOINTS if "{item}" in e[1]]
ADMIN_ONLY = [
    e
    for e in ENDPOINTS
    if (e[1].startswith("/v1/officers") and not e[1].endswith(("/shift", "/{officer}")))
    or (e[1] == "/v1/queues" and e[0] == "POST")
    or e[0] in ("PATCH", "DELETE")
    or (e[1].endswith("/members") and e[0] == "POST")
]


@pytest.fixture
def world(engine, client, add_officer, put_items, make_item):
    """An item in `general` and an officer who belongs only to `traffic`."""
    item_id = put_items(engine, make_item("m1", queue="general"))["m1"]
    officer_id, headers = add_officer(client, ["traffic"])
    return {"item": item_id, "officer": officer_id, "headers": headers}


def fill(path, body, world):
    path = path.format(item=world["item"], officer=world["officer"])
    if body is not None:
        body = {
            k: (v.format(officer=world["officer"]) if isinstance(v, str) else v)
            for k, v in body.items()
        }
    return path, body


def test_a_missing_or_wrong_token_gets_401_everywhere(client, world):
    for method, path, body in ENDPOINTS:
        path, body = fill(path, body, world)
        for auth in (None, "Bearer not-a-token", "Basic YTpi", "Bearer ", "Bearer " + "x" * 600):
            headers = {} if auth is None else {"authorization": auth}
            answer = client.request(method, path, json=body, headers=headers)
            assert answer.status_code == 401, (method, path, auth, answer.text)
            assert answer.headers["content-type"].startswith("application/problem+json")
            assert answer.headers["www-authenticate"].startswith("Bearer")


def test_an_officer_outside_the_items_queue_gets_the_same_404_as_for_no_item(client, world):
    for method, path, body in ITEM_ENDPOINTS:
        real, body = fill(path, body, world)
        absent = path.format(item=999999, officer=world["officer"])
        answer = client.request(method, real, json=body, headers=world["headers"])
        missing = client.request(method, absent, json=body, headers=world["headers"])
        assert (answer.status_code, missing.status_code) == (404, 404), (real, answer.text)
        assert answer.json()["detail"] == missing.json()["detail"].replace(
            "999999", str(world["item"])
        )


def test_an_officer_cannot_list_or_see_another_queue(client, world):
    assert client.get("/v1/queues/general/items", headers=world["headers"]).status_code == 404
    assert client.get("/v1/queues/general/members", headers=world["headers"]).status_code == 404
    queues = client.get("/v1/queues", headers=world["headers"]).json()["queues"]
    assert [q["queue_id"] for q in queues] == ["traffic"]


def test_admin_endpoints_are_refused_to_officers_and_supervisors(client, world, add_officer):
    _, supervisor = add_officer(client, ["general"], role="supervisor")
    assert ADMIN_ONLY
    for method, path, body in ADMIN_ONLY:
        path, body = fill(path, body, world)
        for headers in (world["headers"], supervisor):
            answer = client.request(method, path, json=body, headers=headers)
            assert answer.status_code == 403, (method, path, answer.text)


def test_a_member_works_the_item_and_a_revoked_token_stops_working(
    client, world, add_officer, admin_headers
):
    officer_id, headers = add_officer(client, ["general"])
    item = world["item"]
    assert client.get(f"/v1/items/{item}", headers=headers).status_code == 200
    assert client.post(f"/v1/items/{item}/claim", headers=headers).json()["assignee"] == officer_id
    token_id = client.post(f"/v1/officers/{officer_id}/tokens", headers=admin_headers).json()[
        "token_id"
    ]
    assert (
        client.delete(
            f"/v1/officers/{officer_id}/tokens/{token_id}", headers=admin_headers
        ).status_code
        == 204
    )
    assert client.get("/v1/me", headers=headers).status_code == 200  # the first token still works


def test_a_service_account_reads_everything_and_acts_on_nothing(client, world, add_officer):
    _, service = add_officer(client, [], role="service")
    item = world["item"]
    assert client.get(f"/v1/items/{item}", headers=service).status_code == 200
    assert client.post(f"/v1/items/{item}/claim", headers=service).status_code == 403


def test_a_non_admin_is_refused_before_the_body_is_validated(client, world):
    # A body that fails validation still gets 403, not a 422 naming the fields an
    # admin's request would need.
    for method, path, body in ADMIN_ONLY:
        if body is None:
            continue
        path, _ = fill(path, body, world)
        answer = client.request(method, path, json={"bogus": [1]}, headers=world["headers"])
        assert answer.status_code == 403, (method, path, answer.text)
