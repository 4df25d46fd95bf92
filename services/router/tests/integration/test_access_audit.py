"""The access audit: an admin who mints a token for an officer, acts as them and
revokes the token is seen doing each of those things; reads, steps and admin
changes are recorded with officer, token and client; only admins read it;
nobody updates or deletes it."""

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from switchboard_router.audit import service as access
from switchboard_router.audit.service import ROUTER
from switchboard_router.bootstrap import create_app
from switchboard_router.db.engine import make_engine, migrate
from switchboard_router.db.tables import access_audit, tokens
from switchboard_router.people import service as people
from switchboard_router.routing.policy import Policy
from switchboard_router.settings import RouterSettings

pytestmark = pytest.mark.postgres


def audit_rows(client, headers, **params):
    answer = client.get("/v1/audit/access", params=params, headers=headers)
    assert answer.status_code == 200, answer.text
    return answer.json()["entries"]


def test_an_admin_acting_as_an_officer_with_a_token_they_minted_is_traced_to_them(
    client, engine, admin_headers, add_officer, put_items, make_item
):
    officer_id, _ = add_officer(client, ["general"])
    item_id = put_items(engine, make_item("m1"))["m1"]
    admin_token_id = audit_rows(client, admin_headers, action="officer_created", limit=1)[0][
        "token_id"
    ]

    # The attack: mint a token for the officer, read and act as them, revoke it.
    minted = client.post(f"/v1/officers/{officer_id}/tokens", headers=admin_headers)
    assert minted.status_code == 201, minted.text
    token_id = minted.json()["token_id"]
    as_officer = {"authorization": f"Bearer {minted.json()['token']}"}
    assert client.get(f"/v1/items/{item_id}", headers=as_officer).status_code == 200
    assert client.get("/v1/queues/general/items", headers=as_officer).status_code == 200
    assert client.post(f"/v1/items/{item_id}/claim", headers=as_officer).status_code == 200
    revoked = client.delete(f"/v1/officers/{officer_id}/tokens/{token_id}", headers=admin_headers)
    assert revoked.status_code == 204
    assert client.get(f"/v1/items/{item_id}", headers=as_officer).status_code == 401

    [mint] = audit_rows(client, admin_headers, action="token_issued", object=f"token:{token_id}")
    assert (mint["officer_id"], mint["token_id"]) == ("admin", admin_token_id)
    assert mint["details"]["officer_id"] == officer_id
    assert mint["client"] == "testclient"

    used = audit_rows(client, admin_headers, token=token_id)
    assert [(u["action"], u["object"]) for u in reversed(used)] == [
        ("item_read", f"item:{item_id}"),
        ("queue_items_read", "queue:general"),
        ("item_claimed", f"item:{item_id}"),
    ]
    # The reads carry the officer's name, but the token links them back to the admin.
    assert {(u["officer_id"], u["token_issued_by"]) for u in used} == {(officer_id, "admin")}
    assert used[-1]["details"] == {}  # the item read
    assert used[-2]["details"]["items"] == [item_id]  # the listing says which items it showed

    [revoke] = audit_rows(client, admin_headers, action="token_revoked")
    assert (revoke["officer_id"], revoke["object"]) == ("admin", f"token:{token_id}")
    assert revoke["details"] == {"officer_id": officer_id}


def test_a_step_and_its_access_row_commit_together_or_not_at_all(
    client, engine, admin_headers, add_officer, put_items, make_item, monkeypatch
):
    first_id, first = add_officer(client, ["general"])
    _, second = add_officer(client, ["general"])
    item_id = put_items(engine, make_item("m1"))["m1"]
    assert client.post(f"/v1/items/{item_id}/claim", headers=first).status_code == 200
    assert client.post(f"/v1/items/{item_id}/claim", headers=second).status_code == 409
    claims = audit_rows(client, admin_headers, action="item_claimed", object=f"item:{item_id}")
    assert [c["officer_id"] for c in claims] == [first_id]  # the refused claim left nothing

    client.post(f"/v1/items/{item_id}/release", headers=first).raise_for_status()
    original = access.record

    def failing(conn, by, action, **kwargs):
        if action is access.AccessAction.ITEM_CLAIMED:
            raise RuntimeError("audit write failed")
        original(conn, by, action, **kwargs)

    monkeypatch.setattr(access, "record", failing)
    with pytest.raises(RuntimeError):
        client.post(f"/v1/items/{item_id}/claim", headers=second)
    monkeypatch.undo()
    # No claim without its access row: the step rolled back with it.
    assert client.get(f"/v1/items/{item_id}", headers=admin_headers).json()["status"] == "open"


def test_admin_changes_are_recorded_with_what_changed(client, admin_headers, add_officer):
    officer_id, _ = add_officer(client, ["general"])
    client.patch(f"/v1/officers/{officer_id}", json={"role": "supervisor"}, headers=admin_headers)
    client.patch(
        "/v1/queues/general", json={"assignment_mode": "round_robin"}, headers=admin_headers
    ).raise_for_status()
    client.delete(
        f"/v1/queues/general/members/{officer_id}", headers=admin_headers
    ).raise_for_status()
    client.post(f"/v1/officers/{officer_id}/shift", json={"on_duty": True}, headers=admin_headers)

    rows = audit_rows(client, admin_headers, principal="admin")
    by_action = {r["action"]: r for r in rows}
    assert by_action["officer_updated"]["details"] == {
        "before": {"role": "officer"},
        "after": {"role": "supervisor"},
    }
    assert by_action["queue_updated"]["object"] == "queue:general"
    assert by_action["queue_updated"]["details"] == {"assignment_mode": "round_robin"}
    assert by_action["member_added"]["details"] == {"officer_id": officer_id}
    assert by_action["member_removed"]["details"] == {"officer_id": officer_id}
    assert by_action["shift_changed"]["details"]["after"] == {"on_duty": True}
    assert by_action["queue_created"]["object"] == "queue:general"
    assert by_action["officer_created"]["object"] == f"officer:{officer_id}"


def test_only_admins_read_the_access_audit(client, admin_headers, add_officer):
    _, officer = add_officer(client, ["general"])
    _, supervisor = add_officer(client, ["general"], role="supervisor")
    for headers in (officer, supervisor):
        answer = client.get("/v1/audit/access", headers=headers)
        assert answer.status_code == 403
        assert answer.headers["content-type"].startswith("application/problem+json")
    assert client.get("/v1/audit/access").status_code == 401
    # Reading the audit is itself recorded.
    audit_rows(client, admin_headers)
    assert (
        audit_rows(client, admin_headers, action="audit_read", limit=1)[0]["officer_id"] == "admin"
    )


def test_the_filters_narrow_by_principal_action_object_time_and_page(
    client, engine, admin_headers, add_officer, put_items, make_item
):
    officer_id, officer = add_officer(client, ["general"])
    ids = put_items(engine, make_item("m1"), make_item("m2"))
    for item_id in ids.values():
        client.get(f"/v1/items/{item_id}", headers=officer).raise_for_status()
    mine = audit_rows(client, admin_headers, principal=officer_id, action="item_read")
    assert [r["object"] for r in mine] == [f"item:{ids['m2']}", f"item:{ids['m1']}"]
    assert (
        audit_rows(client, admin_headers, object=f"item:{ids['m1']}")[0]["officer_id"] == officer_id
    )

    first = client.get(
        "/v1/audit/access", params={"principal": officer_id, "limit": 1}, headers=admin_headers
    ).json()
    assert len(first["entries"]) == 1 and first["next_before"] is not None
    second = audit_rows(
        client, admin_headers, principal=officer_id, limit=1, before=first["next_before"]
    )
    assert second[0]["access_id"] < first["entries"][0]["access_id"]

    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert audit_rows(client, admin_headers, principal=officer_id, since=future) == []
    assert len(audit_rows(client, admin_headers, principal=officer_id, until=future)) == 2
    bad = client.get("/v1/audit/access", params={"action": "deleted_it"}, headers=admin_headers)
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "query.action"


def test_a_change_and_its_access_row_commit_together(engine, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("audit write failed")

    monkeypatch.setattr(people, "record", broken)
    with pytest.raises(RuntimeError):
        people.issue_token(
            engine,
            officer_id="admin",
            now=datetime.now(UTC),
            lifetime=timedelta(hours=1),
            by=ROUTER,
        )
    with engine.connect() as conn:
        # No token without its audit row: the insert rolled back with the failed record.
        assert conn.scalar(select(tokens.c.id).where(tokens.c.issued_by == "router")) is None


def test_the_access_audit_refuses_update_delete_and_truncate(
    client, admin_headers, engine, put_items, make_item
):
    put_items(engine, make_item("m1"))  # an item audit row
    audit_rows(client, admin_headers)  # and access rows
    statements = [
        "UPDATE access_audit SET officer_id = 'someone-else'",
        "DELETE FROM access_audit",
        "TRUNCATE access_audit",
        "DELETE FROM audit",
        "TRUNCATE audit",
    ]
    for statement in statements:
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
            conn.execute(text(statement))
    with engine.connect() as conn:
        assert conn.scalar(select(access_audit.c.id).limit(1)) is not None


@pytest.fixture
async def served(database_url, port_factory, serving):
    engine = make_engine(database_url)
    migrate(engine)
    people.ensure_admin(engine, token="stream-admin", now=datetime.now(UTC))
    app = create_app(
        RouterSettings(database_url=database_url), engine, Policy.load(), consume=False, clock=False
    )
    async with serving(app, port_factory()) as url:
        yield url, engine
    engine.dispose()


async def test_opening_the_stream_is_recorded_with_the_client_address(served):
    url, _ = served
    admin_headers = {"authorization": "Bearer stream-admin"}
    async with httpx.AsyncClient(timeout=10) as client:
        async with client.stream("GET", f"{url}/v1/stream", headers=admin_headers) as response:
            assert response.status_code == 200
            async for _ in response.aiter_lines():
                break  # the stream is open
        answer = await client.get(
            f"{url}/v1/audit/access", params={"action": "stream_opened"}, headers=admin_headers
        )
    [opened] = answer.json()["entries"]
    assert (opened["officer_id"], opened["client"]) == ("admin", "127.0.0.1")
    assert opened["token_id"].startswith("tok_")


def test_a_change_of_the_routing_policy_file_is_in_the_access_audit(engine, tmp_path):
    # Who may see which mentions follows the policy: an edited file must leave a trace.
    from fastapi.testclient import TestClient

    from switchboard_router.routing import policy as routing_policy
    from switchboard_router.routing.holder import PolicyHolder

    path = tmp_path / "routing.yaml"
    original = (Path(routing_policy.__file__).parent / "routing.yaml").read_text(encoding="utf-8")
    path.write_text(original, encoding="utf-8")
    holder = PolicyHolder.load(path)
    before = holder.current().version
    settings = RouterSettings(database_url=str(engine.url), router_clock_seconds=0.05)
    app = create_app(settings, engine, holder, consume=False)
    with TestClient(app) as client:
        headers = {"authorization": "Bearer admin-test-token"}
        changed = original.replace(f'version: "{before}"', 'version: "audited-edit-1"', 1)
        assert changed != original, "the test's edit must change the policy's version"
        path.write_text(changed, encoding="utf-8")
        deadline = time.monotonic() + 20
        rows: list = []
        while time.monotonic() < deadline and not rows:
            rows = audit_rows(client, headers, action="policy_reloaded")
            time.sleep(0.1)
    assert [(r["officer_id"], r["object"]) for r in rows] == [("router", "policy:audited-edit-1")]
    assert rows[0]["details"]["previous"] == before
