"""Tokens expire, and rotating the bootstrap admin token retires the old one."""

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from switchboard_router.audit.service import ROUTER
from switchboard_router.bootstrap import create_app
from switchboard_router.db.engine import make_engine, migrate
from switchboard_router.people import service as people
from switchboard_router.routing.policy import Policy
from switchboard_router.settings import RouterSettings

pytestmark = pytest.mark.postgres


def test_an_expired_token_gets_401(client, engine, add_officer):
    officer_id, _ = add_officer(client, ["general"])
    issued_at = datetime.now(UTC) - timedelta(hours=2)
    _, token, expires_at = people.issue_token(
        engine, officer_id=officer_id, now=issued_at, lifetime=timedelta(hours=1), by=ROUTER
    )
    assert expires_at < datetime.now(UTC)
    answer = client.get("/v1/me", headers={"authorization": f"Bearer {token}"})
    assert answer.status_code == 401
    assert "expired" in answer.json()["detail"]


def test_a_token_issued_with_a_lifetime_works_until_it_runs_out(
    client, engine, admin_headers, add_officer
):
    officer_id, _ = add_officer(client, ["general"])
    before = datetime.now(UTC)
    issued = client.post(
        f"/v1/officers/{officer_id}/tokens", json={"lifetime_seconds": 600}, headers=admin_headers
    )
    assert issued.status_code == 201, issued.text
    token = issued.json()["token"]
    expires_at = datetime.fromisoformat(issued.json()["expires_at"])
    assert (
        before + timedelta(seconds=600) <= expires_at <= datetime.now(UTC) + timedelta(seconds=600)
    )
    headers = {"authorization": f"Bearer {token}"}
    assert client.get("/v1/me", headers=headers).status_code == 200
    assert people.authenticate(engine, token=token, now=expires_at - timedelta(seconds=1))
    assert people.authenticate(engine, token=token, now=expires_at) is None


def test_tokens_get_the_configured_lifetime_and_no_longer(engine, add_officer):
    settings = RouterSettings(database_url=str(engine.url), router_token_lifetime_seconds=3600)
    app = create_app(settings, engine, Policy.load(), consume=False, clock=False)
    admin_headers = {"authorization": "Bearer admin-test-token"}
    with TestClient(app) as client:
        officer_id, _ = add_officer(client, ["general"])
        issued = client.post(f"/v1/officers/{officer_id}/tokens", headers=admin_headers)
        lifetime = datetime.fromisoformat(issued.json()["expires_at"]) - datetime.now(UTC)
        assert timedelta(minutes=59) < lifetime <= timedelta(hours=1)
        too_long = client.post(
            f"/v1/officers/{officer_id}/tokens",
            json={"lifetime_seconds": 3601},
            headers=admin_headers,
        )
        assert too_long.status_code == 422
        assert too_long.json()["errors"][0]["field"] == "body.lifetime_seconds"


def test_a_new_bootstrap_token_revokes_the_old_one(client, engine, admin_headers):
    assert client.get("/v1/me", headers=admin_headers).status_code == 200
    # A restart with SWITCHBOARD_ROUTER_BOOTSTRAP_ADMIN_TOKEN changed runs the bootstrap step again.
    people.ensure_admin(engine, token="rotated-admin-token", now=datetime.now(UTC))
    rotated = {"authorization": "Bearer rotated-admin-token"}
    assert client.get("/v1/me", headers=admin_headers).status_code == 401
    assert client.get("/v1/me", headers=rotated).status_code == 200
    # The same value again changes nothing; the old value again is refused loudly.
    people.ensure_admin(engine, token="rotated-admin-token", now=datetime.now(UTC))
    assert client.get("/v1/me", headers=rotated).status_code == 200
    with pytest.raises(people.RevokedBootstrapToken, match="BOOTSTRAP_ADMIN_TOKEN"):
        people.ensure_admin(engine, token="admin-test-token", now=datetime.now(UTC))
    entries = client.get("/v1/audit/access", headers=rotated).json()["entries"]
    actions = [(e["officer_id"], e["action"]) for e in entries]
    assert ("router", "bootstrap_token_revoked") in actions
    assert actions.count(("router", "bootstrap_token_issued")) == 2  # the first and the rotation


def test_tokens_an_admin_issued_for_the_bootstrap_admin_survive_rotation(
    client, engine, admin_headers
):
    # Only tokens made from the setting are retired by a rotation.
    issued = client.post("/v1/officers/admin/tokens", headers=admin_headers).json()["token"]
    people.ensure_admin(engine, token="rotated-admin-token", now=datetime.now(UTC))
    assert client.get("/v1/me", headers={"authorization": f"Bearer {issued}"}).status_code == 200


def test_expiry_and_rotation_hold_on_sqlite_too(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path}/router.db")
    migrate(engine)
    now = datetime.now(UTC)
    people.ensure_admin(engine, token="first", now=now)
    _, token, expires_at = people.issue_token(
        engine, officer_id="admin", now=now, lifetime=timedelta(minutes=5), by=ROUTER
    )
    assert people.authenticate(engine, token=token, now=expires_at - timedelta(seconds=1))
    assert people.authenticate(engine, token=token, now=expires_at) is None
    people.ensure_admin(engine, token="second", now=now)
    assert people.authenticate(engine, token="first") is None
    assert people.authenticate(engine, token="second") is not None
    engine.dispose()
