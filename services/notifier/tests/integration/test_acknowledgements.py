"""`POST /v1/escalations/{escalation_id}/ack` on the real broker, PostgreSQL and stand-ins:
the paged person's acknowledgement cancels the incident's pending steps once; a caller
without the token, a malformed id and an unknown escalation are refused by name."""

import httpx
import pytest

from conftest import wait_for
from switchboard_notifier import store
from switchboard_notifier.app import create_app
from switchboard_notifier.holder import PolicyHolder
from switchboard_notifier.store import SendState, create_schema
from switchboard_shared.database import make_engine

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

ACK_TOKEN = "integration-ack-token-0123456789"


def client_for(settings, engine) -> httpx.AsyncClient:
    """The notifier's own app (its lifespan is not run: the test runs the loops itself)."""
    policy = PolicyHolder.load(settings.notifier_policy_path, accept=settings.check_secrets)
    app = create_app(settings, engine, policy)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://notifier")


def delivered(engine):
    return store.counts_by_state(engine).get(SendState.DELIVERED, 0)


async def test_acknowledging_an_incident_cancels_its_pending_steps_once(
    make_escalation, notifier_settings, run_notifier, publish, smtp
):
    settings = notifier_settings(email_after=3600, notifier_ack_token=ACK_TOKEN)
    async with run_notifier(settings) as notifier:
        await publish(make_escalation(incident_id=77, member_count=3))
        assert await wait_for(lambda: delivered(notifier.engine) == 3)
        assert store.counts_by_state(notifier.engine)[SendState.PENDING] == 1
        auth = {"Authorization": f"Bearer {ACK_TOKEN}"}
        async with client_for(settings, notifier.engine) as client:
            first = await client.post(
                "/v1/escalations/incident:77/ack", json={"by": "inspector-3"}, headers=auth
            )
            again = await client.post(
                "/v1/escalations/incident:77/ack", json={"by": "inspector-3"}, headers=auth
            )
        assert first.status_code == 200, first.text
        assert first.json() == {
            "escalation_id": "incident:77",
            "acknowledged_by": "inspector-3",
            "cancelled": 1,
        }
        assert again.status_code == 200 and again.json()["cancelled"] == 0
        assert store.counts_by_state(notifier.engine) == {
            SendState.DELIVERED: 3,
            SendState.CANCELLED: 1,
        }
    assert smtp.messages == []


async def test_a_forged_acknowledgement_cancels_nothing(
    make_escalation, notifier_settings, run_notifier, publish
):
    settings = notifier_settings(email_after=3600, notifier_ack_token=ACK_TOKEN)
    async with run_notifier(settings) as notifier:
        event = make_escalation()
        await publish(event)
        assert await wait_for(lambda: delivered(notifier.engine) == 3)
        group = f"item:{event.item_id}"
        async with client_for(settings, notifier.engine) as client:
            unsigned = await client.post(f"/v1/escalations/{group}/ack", json={"by": "x"})
            forged = await client.post(
                f"/v1/escalations/{group}/ack",
                json={"by": "x"},
                headers={"Authorization": "Bearer not-the-token-at-all-0000"},
            )
        assert unsigned.status_code == 401 and forged.status_code == 401
        assert forged.headers["content-type"] == "application/problem+json"
        assert store.counts_by_state(notifier.engine)[SendState.PENDING] == 1


@pytest.fixture
def engine(database_url):
    engine = make_engine(database_url)
    create_schema(engine)
    yield engine
    engine.dispose()


async def test_bad_acknowledgements_are_refused_by_name(notifier_settings, engine):
    settings = notifier_settings(notifier_ack_token=ACK_TOKEN)
    auth = {"Authorization": f"Bearer {ACK_TOKEN}"}
    async with client_for(settings, engine) as client:
        malformed = await client.post(
            "/v1/escalations/fire-at-docks/ack", json={"by": "x"}, headers=auth
        )
        unknown = await client.post(
            "/v1/escalations/incident:999999/ack", json={"by": "x"}, headers=auth
        )
        nobody = await client.post("/v1/escalations/incident:1/ack", json={}, headers=auth)
    assert malformed.status_code == 422
    assert malformed.json()["errors"][0]["field"] == "path.escalation_id"
    assert unknown.status_code == 404
    assert "incident:999999" in unknown.json()["detail"]
    assert nobody.status_code == 422
    assert nobody.json()["errors"][0]["field"] == "body.by"


async def test_without_a_token_no_one_can_acknowledge(notifier_settings, engine):
    async with client_for(notifier_settings(), engine) as client:
        answer = await client.post(
            "/v1/escalations/item:1/ack",
            json={"by": "x"},
            headers={"Authorization": "Bearer anything-at-all-000000"},
        )
    assert answer.status_code == 503
    assert "SWITCHBOARD_NOTIFIER_ACK_TOKEN" in answer.json()["detail"]
