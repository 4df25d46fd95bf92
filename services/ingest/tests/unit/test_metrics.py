"""Ingest exports every counter series it knows it can produce, at zero, from start-up.

The metrics live in prometheus_client's global registry (one per process), so
other tests may already have counted some series: a series absent before
`initialise` must then read 0, and one already counted must keep its count.
"""

import asyncio

from fastapi.testclient import TestClient
from prometheus_client import REGISTRY, generate_latest

from conftest import Series, exposed, series
from switchboard_ingest import app as ingest_app
from switchboard_ingest import doors, metrics
from switchboard_ingest.intake import Intake
from switchboard_ingest.settings import IngestSettings
from switchboard_shared.events import Source


def expected() -> list[Series]:
    """Series that must exist after start-up, from the code's own vocabularies."""
    out = [
        series("switchboard_ingest_deadlettered_total", source=source, reason="normalisation")
        for source in [*Source, "unknown"]
    ]
    out += [series("switchboard_ingest_unavailable_total", cause=c) for c in doors.Refusal]
    out += [series("switchboard_ingest_rate_limited_total", door=d) for d in doors.LimitedDoor]
    out += [
        series("switchboard_ingest_accepted_total", source=source, via="api") for source in Source
    ]
    out += [
        series("switchboard_ingest_duplicates_total", source="instagram", via="webhook_meta"),
        series("switchboard_ingest_accepted_total", source="rss", via="rss"),
        series("switchboard_ingest_rejected_total", reason="too_large", source="unknown"),
        series("switchboard_ingest_rejected_total", reason="forbidden", source="sms"),
        series("switchboard_ingest_rejected_total", reason="bad_signature", source="meta"),
        series("switchboard_ingest_rejected_total", reason="bad_verify_token", source="meta"),
    ]
    return out


def test_initialise_exports_the_known_series_at_zero_and_keeps_counts():
    before = exposed(generate_latest(REGISTRY).decode())

    metrics.initialise(connectors=["rss:metrics-unit-test"])

    after = exposed(generate_latest(REGISTRY).decode())
    for s in expected():
        assert s in after, f"{s} not exported"
        assert after[s] == before.get(s, 0.0), f"{s} is {after[s]}"
    connector = series(
        "switchboard_ingest_connector_errors_total", connector="rss:metrics-unit-test"
    )
    assert after[connector] == 0.0


def test_only_combinations_that_can_happen_are_exported():
    metrics.initialise()

    after = exposed(generate_latest(REGISTRY).decode())
    assert series("switchboard_ingest_accepted_total", source="x", via="webhook_x") in after
    assert series("switchboard_ingest_accepted_total", source="rss", via="webhook_x") not in after
    assert series("switchboard_ingest_rejected_total", reason="invalid", source="sms") not in after


def test_every_door_is_exported_with_its_sources():
    metrics.initialise()

    for door in doors.Door:
        assert door.sources, door
        for source in door.sources:
            labels = {"source": source, "via": door}
            assert (
                REGISTRY.get_sample_value("switchboard_ingest_accepted_total", labels) is not None
            )


class IdleConnector:
    def __init__(self, name: str) -> None:
        self.name = name

    async def run(self) -> None:
        await asyncio.Event().wait()


def test_the_started_app_serves_the_series_and_its_connectors_at_zero(monkeypatch, tmp_path):
    # No Kafka in a unit test: intake neither connects nor flushes.
    async def stopped(self: Intake) -> None:
        return None

    monkeypatch.setattr(Intake, "start", lambda self: None)
    monkeypatch.setattr(Intake, "stop", stopped)
    monkeypatch.setattr(
        ingest_app,
        "build_connectors",
        lambda settings, intake: [IdleConnector("rss:started-app"), IdleConnector("mastodon:x")],
    )
    settings = IngestSettings(ingest_state_dir=tmp_path, ingest_allow_open=True)

    with TestClient(ingest_app.create_app(settings)) as client:
        text = client.get("/metrics").text

    samples = exposed(text)
    for name in ("rss:started-app", "mastodon:x"):
        assert samples[series("switchboard_ingest_connector_errors_total", connector=name)] == 0.0
    for s in expected():
        assert s in samples, f"{s} not served"
