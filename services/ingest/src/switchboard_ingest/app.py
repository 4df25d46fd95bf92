"""The ingest FastAPI app, built by a factory from settings."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException

from switchboard_ingest import metrics, webhooks
from switchboard_ingest.api import router
from switchboard_ingest.auth import ApiKeys
from switchboard_ingest.connectors import build_connectors
from switchboard_ingest.intake import Intake
from switchboard_ingest.limits import Limits
from switchboard_ingest.settings import IngestSettings
from switchboard_shared.logs import fields
from switchboard_shared.metrics_server import METRICS_PATH, metrics_exposure, scrape
from switchboard_shared.problems import install_problem_handlers
from switchboard_shared.settings import api_docs_urls

log = logging.getLogger(__name__)


def create_app(settings: IngestSettings, *, run_connectors: bool = True) -> FastAPI:
    """The ingest app: intake, API keys, webhooks and (if enabled) pull connectors."""
    # Keys first: without usable keys nothing else is worth building.
    api_keys = ApiKeys.load(settings.ingest_api_keys_file, allow_open=settings.ingest_allow_open)
    intake = Intake(settings)
    metrics_server, metrics_token = metrics_exposure(settings, "ingest")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
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
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            await intake.stop()
            if metrics_server is not None:
                metrics_server.stop()

    app = FastAPI(
        title="Switchboard ingest",
        version="0.1.0",
        description="Takes mentions in and writes them to Kafka; 202 means Kafka has it.",
        lifespan=lifespan,
        **api_docs_urls(settings.ingest_api_docs),
    )
    app.state.settings = settings
    app.state.metrics_server = metrics_server
    app.state.intake = intake
    app.state.api_keys = api_keys
    app.state.limits = Limits(settings)
    app.include_router(router)
    app.include_router(webhooks.router)

    if metrics_server is None:  # with a metrics port of its own, the API port has no /metrics

        @app.get(METRICS_PATH, summary="Prometheus metrics", include_in_schema=False)
        async def metrics_view(request: Request) -> Response:
            status, body, headers = scrape(request.headers.get("authorization"), metrics_token)
            return Response(body, status_code=status, headers=headers)

    install_problem_handlers(
        app,
        response=JSONResponse,
        http_exception=HTTPException,
        validation_exception=RequestValidationError,
    )

    return app
