"""The officer API limits each bearer token on its own (issue 11, finding 6)."""

import pytest
from fastapi.testclient import TestClient

from switchboard_router.bootstrap import create_app
from switchboard_router.routing.policy import Policy
from switchboard_router.settings import RouterSettings

pytestmark = pytest.mark.postgres


def rate_limited(client: TestClient) -> float:
    for line in client.get("/metrics").text.splitlines():
        if line.startswith("switchboard_router_rate_limited_total "):
            return float(line.split()[-1])
    raise AssertionError("switchboard_router_rate_limited_total is not exported")


def test_rapid_calls_on_one_token_meet_429_with_retry_after_and_another_token_is_unaffected(
    engine, admin_headers
):
    settings = RouterSettings(
        database_url=str(engine.url), router_token_burst=6, router_token_rate_per_second=0.01
    )
    app = create_app(settings, engine, Policy.load(), consume=False, clock=False)
    with TestClient(app) as client:
        before = rate_limited(client)
        # Two of the admin's six: an officer and the officer's token.
        officer = client.post(
            "/v1/officers", json={"name": "Dana", "role": "officer"}, headers=admin_headers
        )
        assert officer.status_code == 201, officer.text
        issued = client.post(
            f"/v1/officers/{officer.json()['officer_id']}/tokens", headers=admin_headers
        )
        officer_auth = {"authorization": f"Bearer {issued.json()['token']}"}
        statuses = [client.get("/v1/queues", headers=admin_headers).status_code for _ in range(30)]
        assert statuses[:4] == [200] * 4
        assert set(statuses[4:]) == {429}
        refused = client.get("/v1/queues", headers=admin_headers)
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert refused.json()["status"] == 429
        assert int(refused.headers["retry-after"]) >= 1
        assert "admin-test-token" not in refused.text
        assert rate_limited(client) == before + 27
        # The officer's token has its own bucket; unauthenticated calls are not counted.
        assert client.get("/v1/queues", headers=officer_auth).status_code == 200
        assert client.get("/v1/queues").status_code == 401
        assert client.get("/healthz").status_code == 200
