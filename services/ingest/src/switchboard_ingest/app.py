"""The ingest FastAPI app, built by a factory from settings."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from switchboard_ingest import metrics, webhooks
from switchboard_ingest.api import router
from switchboard_ingest.auth import ApiKeys
from switchboard_ingest.connectors import build_connectors
from switchboard_ingest.intake import Intake
from switchboard_ingest.limits import Limits
from switchboard_ingest.settings import IngestSettings
from switchboard_shared.background import cancel_and_wait
from switchboard_shared.logs import fields
from switchboard_web.app import service_app

log = logging.getLogger(__name__)


def create_app(settings: IngestSettings, *, run_connectors: bool = True) -> FastAPI:
    """The ingest app: intake, API keys, webhooks and (if enabled) pull connectors."""
    # Keys first: without usable keys nothing else is worth building.
    api_keys = ApiKeys.load(settings.ingest_api_keys_file, allow_open=settings.ingest_allow_open)
    intake = Intake(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        metrics_server = app.state.metrics_server
        if metrics_server is not None:
            metrics_server.start()
        intake.start()
        connectors = build_connectors(settings, intake) if run_connectors else []
        metrics.initialise(connectors=[connector.name for connector in connectors])
        tasks = []
        for connector in connectors:
            log.info("starting connector", extra=fields(connector=connector.name))
            tasks.append(asyncio.create_task(connector.run(), name=f"connector-{connector.name}"))
        try:
            yield
        finally:
            for task in tasks:
                with contextlib.suppress(Exception):
                    await cancel_and_wait(task)
            await intake.stop()
            if metrics_server is not None:
                metrics_server.stop()

    app = service_app(
        "ingest",
        settings,
        description="Takes mentions in and writes them to Kafka; 202 means Kafka has it.",
        lifespan=lifespan,
        routers=[router, webhooks.router],
        api_docs=settings.ingest_api_docs,
    )
    app.state.intake = intake
    app.state.api_keys = api_keys
    app.state.limits = Limits(settings)
    return app
