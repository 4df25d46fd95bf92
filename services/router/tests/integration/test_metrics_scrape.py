"""A scrape of the router's /metrics never queries the database.

The attack: scraping /metrics in a loop (it needed no token) made the router
run its queue and outbox queries once per request against PostgreSQL. Now
the gauges are read by a background loop at its own interval and a scrape
serves the last reading; here every statement sent to the real database is
counted during scrapes.
"""

import asyncio
import time

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event

from conftest import exposed, series
from switchboard_router.bootstrap import create_app
from switchboard_router.routing.policy import Policy
from switchboard_router.settings import RouterSettings

pytestmark = pytest.mark.postgres


@pytest.fixture
def statements(engine):
    sent: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        sent.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    yield sent
    event.remove(engine, "before_cursor_execute", count)


def test_scrapes_run_no_query_and_serve_the_last_gauge_reading(
    engine, put_items, make_item, statements
):
    put_items(engine, make_item("scrape-1", queue="scrape-test"), make_item("scrape-2"))
    settings = RouterSettings(database_url=str(engine.url))
    app = create_app(settings, engine, Policy.load(), consume=False, clock=False)
    # No lifespan: no relay, clock or gauge loop runs beside the scrapes.
    client = TestClient(app)
    statements.clear()  # storing the items and building the app may query; scrapes may not

    for _ in range(20):
        assert client.get("/metrics").status_code == 200
    assert statements == []

    asyncio.run(app.state.gauges.refresh())  # what the loop does every few seconds
    assert statements, "the gauge reading queries the database"
    read = len(statements)
    samples = exposed(client.get("/metrics").text)
    assert samples[series("switchboard_router_queue_depth", queue="scrape-test")] == 1.0
    assert (
        samples[series("switchboard_router_queue_oldest_item_age_seconds", queue="scrape-test")] > 0
    )
    assert len(statements) == read  # the scrape itself, again, sent nothing


def test_the_gauge_loop_reads_at_start_and_then_at_its_interval(engine, put_items, make_item):
    settings = RouterSettings(database_url=str(engine.url), router_metrics_refresh_seconds=0.2)
    app = create_app(settings, engine, Policy.load(), consume=False, clock=False)
    depth = series("switchboard_router_queue_depth", queue="loop-test")
    with TestClient(app) as client:
        deadline = time.monotonic() + 15
        while app.state.gauges.readings < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert app.state.gauges.readings >= 1, "no gauge reading at start-up"
        put_items(engine, make_item("loop-1", queue="loop-test"))
        while exposed(client.get("/metrics").text).get(depth) != 1.0:
            assert time.monotonic() < deadline, "the new item never reached the gauge"
            time.sleep(0.05)
