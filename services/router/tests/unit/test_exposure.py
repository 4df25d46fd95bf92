"""What the router shows to whoever reaches its port: no API map, no metrics unless allowed.

The attacks: an unauthenticated GET of /docs, /redoc, /openapi.json (every
route, every parameter) and of /metrics (queue depths, oldest items, officers'
work rates) on the API port.
"""

import httpx
import pytest
from fastapi.testclient import TestClient

from conftest import assert_metrics_need_the_token
from switchboard_router.bootstrap import create_app
from switchboard_router.db.engine import make_engine, migrate
from switchboard_router.routing.policy import Policy
from switchboard_router.settings import RouterSettings

TOKEN = "router-metrics-token-0123"
DOCS = ("/docs", "/redoc", "/openapi.json")


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('router')}/router.db")
    migrate(engine)
    yield engine
    engine.dispose()


def app_for(engine, **settings):
    return create_app(
        RouterSettings(database_url=str(engine.url), **settings),
        engine,
        Policy.load(),
        consume=False,
        clock=False,
    )


def test_api_docs_and_openapi_are_not_served_by_default(engine):
    client = TestClient(app_for(engine))
    for path in DOCS:
        assert client.get(path).status_code == 404, path


def test_api_docs_are_served_when_the_setting_asks_for_them(engine):
    client = TestClient(app_for(engine, router_api_docs=True))
    for path in DOCS:
        assert client.get(path).status_code == 200, path
    paths = client.get("/openapi.json").json()["paths"]
    assert "/v1/queues" in paths and "/metrics" not in paths


@pytest.mark.parametrize("authorization", [None, "Bearer not-the-metrics-token", TOKEN])
def test_metrics_with_a_token_configured_refuse_a_scrape_without_it(engine, authorization):
    client = TestClient(app_for(engine, router_metrics_token=TOKEN))
    assert_metrics_need_the_token(
        client, TOKEN, authorization, service="router", metric="switchboard_router_consumed_total"
    )


def test_with_a_metrics_port_the_api_port_serves_no_metrics(engine):
    app = app_for(engine, router_metrics_port=0, router_metrics_token=TOKEN)
    with TestClient(app) as client:
        answer = client.get("/metrics", headers={"authorization": f"Bearer {TOKEN}"})
        assert answer.status_code == 404
        assert "switchboard_router" not in answer.text
        url = f"http://127.0.0.1:{app.state.metrics_server.port}/metrics"
        assert httpx.get(url).status_code == 401
        scraped = httpx.get(url, headers={"authorization": f"Bearer {TOKEN}"})
        assert scraped.status_code == 200 and "switchboard_router_consumed_total" in scraped.text
    with pytest.raises(httpx.ConnectError):  # stopped with the app
        httpx.get(url)
