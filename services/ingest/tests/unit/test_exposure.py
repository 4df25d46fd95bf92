"""What ingest shows to whoever reaches its port: no API map, no metrics unless allowed.

The attacks: an unauthenticated GET of /docs, /redoc, /openapi.json (a map of
every door) and of /metrics (which sources and doors are in use, how much
traffic) on the API port.
"""

import httpx
import pytest
from fastapi.testclient import TestClient

from conftest import assert_metrics_need_the_token
from switchboard_ingest import app as ingest_app
from switchboard_ingest.intake import Intake
from switchboard_ingest.settings import IngestSettings

TOKEN = "ingest-metrics-token-0123"
DOCS = ("/docs", "/redoc", "/openapi.json")


@pytest.fixture
def no_kafka(monkeypatch):
    """Start the app without Kafka: intake neither connects nor flushes; no connectors."""

    async def stopped(self: Intake) -> None:
        return None

    monkeypatch.setattr(Intake, "start", lambda self: None)
    monkeypatch.setattr(Intake, "stop", stopped)
    monkeypatch.setattr(ingest_app, "build_connectors", lambda settings, intake: [])


def test_api_docs_and_openapi_are_not_served_by_default(tmp_path):
    client = TestClient(
        ingest_app.create_app(IngestSettings(ingest_allow_open=True, ingest_state_dir=tmp_path))
    )
    for path in DOCS:
        assert client.get(path).status_code == 404, path
    # The canonical mention schema is published on purpose and stays.
    schema = client.get("/v1/schemas/mention.v1.json")
    assert schema.status_code == 200 and "source_id" in schema.text


def test_api_docs_are_served_when_the_setting_asks_for_them(tmp_path):
    settings = IngestSettings(
        ingest_allow_open=True, ingest_state_dir=tmp_path, ingest_api_docs=True
    )
    client = TestClient(ingest_app.create_app(settings))
    for path in DOCS:
        assert client.get(path).status_code == 200, path
    assert "/v1/mentions" in client.get("/openapi.json").json()["paths"]


@pytest.mark.parametrize("authorization", [None, "Bearer not-the-metrics-token", TOKEN])
def test_metrics_with_a_token_configured_refuse_a_scrape_without_it(tmp_path, authorization):
    settings = IngestSettings(
        ingest_allow_open=True, ingest_state_dir=tmp_path, ingest_metrics_token=TOKEN
    )
    client = TestClient(ingest_app.create_app(settings))
    assert_metrics_need_the_token(
        client, TOKEN, authorization, service="ingest", metric="switchboard_ingest_accepted_total"
    )


def test_with_a_metrics_port_the_api_port_serves_no_metrics(tmp_path, no_kafka):
    settings = IngestSettings(
        ingest_allow_open=True, ingest_state_dir=tmp_path, ingest_metrics_port=0
    )
    with TestClient(ingest_app.create_app(settings)) as client:
        answer = client.get("/metrics")
        assert answer.status_code == 404
        assert "switchboard_ingest" not in answer.text
        port = client.app.state.metrics_server.port
        scraped = httpx.get(f"http://127.0.0.1:{port}/metrics")
        assert scraped.status_code == 200 and "switchboard_ingest_accepted_total" in scraped.text
    with pytest.raises(httpx.ConnectError):  # stopped with the app
        httpx.get(f"http://127.0.0.1:{port}/metrics")


def test_the_metrics_port_also_wants_the_token_when_one_is_set(tmp_path, no_kafka):
    settings = IngestSettings(
        ingest_allow_open=True,
        ingest_state_dir=tmp_path,
        ingest_metrics_port=0,
        ingest_metrics_token=TOKEN,
    )
    with TestClient(ingest_app.create_app(settings)) as client:
        url = f"http://127.0.0.1:{client.app.state.metrics_server.port}/metrics"
        assert httpx.get(url).status_code == 401
        allowed = httpx.get(url, headers={"authorization": f"Bearer {TOKEN}"})
        assert allowed.status_code == 200 and "switchboard_ingest" in allowed.text


def test_a_metrics_token_shorter_than_16_characters_is_refused_naming_the_setting():
    with pytest.raises(ValueError, match="ingest_metrics_token"):
        IngestSettings(ingest_metrics_token="short")
