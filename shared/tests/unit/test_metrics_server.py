"""The metrics listener serves /metrics alone, and only to the holder of the token."""

import httpx
import pytest
from prometheus_client import CollectorRegistry, Counter

from switchboard_shared.metrics_server import MetricsServer, bearer_matches

TOKEN = "metrics-token-for-tests"


@pytest.fixture
def served():
    registry = CollectorRegistry()
    Counter("exposure_things_total", "Things.", registry=registry).inc()
    servers = []

    def serve(token=None):
        server = MetricsServer("127.0.0.1", 0, token=token, registry=registry)
        server.start()
        servers.append(server)
        return f"http://127.0.0.1:{server.port}"

    yield serve
    for server in servers:
        server.stop()


def test_without_a_token_configured_the_listener_serves_metrics(served):
    answer = httpx.get(f"{served()}/metrics")
    assert answer.status_code == 200
    assert "exposure_things_total 1.0" in answer.text
    assert answer.headers["content-type"].startswith("text/plain")


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer wrong-token-of-some-length", f"Basic {TOKEN}", "Bearer", TOKEN],
)
def test_a_scrape_without_the_token_gets_401_and_no_metrics(served, authorization):
    headers = {"authorization": authorization} if authorization else {}
    answer = httpx.get(f"{served(TOKEN)}/metrics", headers=headers)
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"].startswith("Bearer")
    assert answer.headers["content-type"] == "application/problem+json"
    assert "exposure_things_total" not in answer.text


def test_the_token_holder_gets_the_metrics(served):
    answer = httpx.get(f"{served(TOKEN)}/metrics", headers={"authorization": f"Bearer {TOKEN}"})
    assert answer.status_code == 200 and "exposure_things_total 1.0" in answer.text


def test_nothing_but_metrics_is_served(served):
    base = served()
    for path in ("/", "/metrics/", "/debug", "/docs"):
        answer = httpx.get(f"{base}{path}")
        assert answer.status_code == 404, path
        assert "exposure_things_total" not in answer.text
    assert httpx.post(f"{base}/metrics").status_code == 405


def test_a_stopped_listener_releases_its_port():
    server = MetricsServer("127.0.0.1", 0)
    server.start()
    port = server.port
    server.stop()
    again = MetricsServer("127.0.0.1", port)
    again.start()  # would raise "address in use" if the port were still held
    again.stop()


def test_bearer_matches_only_the_exact_token():
    assert bearer_matches(None, None) and bearer_matches("anything", None)
    assert bearer_matches(f"Bearer {TOKEN}", TOKEN) and bearer_matches(f"bearer {TOKEN}", TOKEN)
    assert not bearer_matches(None, TOKEN)
    assert not bearer_matches(f"Bearer {TOKEN}x", TOKEN)
    assert not bearer_matches(f"Bearer {TOKEN[:-1]}", TOKEN)
