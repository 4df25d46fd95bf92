"""The app of a background-loop service: probes name the service, readiness reads its loop."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from types import SimpleNamespace

from fastapi import FastAPI
from fastapi.testclient import TestClient

from switchboard_shared.database import make_engine
from switchboard_shared.settings import CommonSettings
from switchboard_web.app import worker_app
from switchboard_web.health import store_and_kafka_readiness


class LoopSettings(CommonSettings):
    loop_host: str = "127.0.0.1"
    loop_metrics_port: int | None = None
    loop_metrics_token: str | None = None


def app_with_a_loop_that_never_joins(tmp_path) -> FastAPI:
    loop = SimpleNamespace(
        engine=make_engine(f"sqlite:///{tmp_path}/loop.db"), started=asyncio.Event(), producer=None
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.loop = loop
        yield

    return worker_app(
        "loop",
        LoopSettings(),
        description="A loop.",
        lifespan=lifespan,
        readiness=store_and_kafka_readiness("loop"),
        needs="Kafka and the database work",
    )


def test_a_worker_app_names_its_service_keeps_its_settings_and_no_metrics_listener_without_a_port(
    tmp_path,
):
    app = app_with_a_loop_that_never_joins(tmp_path)

    with TestClient(app) as client:
        assert client.get("/healthz").json() == {"status": "ok", "service": "loop"}
        assert client.get("/metrics").status_code == 200
    assert app.title == "Switchboard loop"
    assert isinstance(app.state.settings, LoopSettings)
    assert app.state.metrics_server is None


def test_a_worker_app_is_not_ready_until_its_loop_has_joined_kafka(tmp_path):
    with TestClient(app_with_a_loop_that_never_joins(tmp_path)) as client:
        answer = client.get("/readyz")

    assert answer.status_code == 503
    assert answer.json() == {"status": "not ready", "problems": ["kafka consumer not started"]}
