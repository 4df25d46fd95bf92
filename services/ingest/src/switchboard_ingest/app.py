"""The ingest FastAPI app, built by a factory from settings."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from switchboard_ingest import metrics, webhooks
from switchboard_ingest.api import router
from switchboard_ingest.auth import ApiKeys
from switchboard_ingest.connectors import build_connectors
from switchboard_ingest.http import ProblemError, problem_response
from switchboard_ingest.intake import Intake
from switchboard_ingest.limits import Limits
from switchboard_ingest.settings import IngestSettings
from switchboard_shared.logs import fields

log = logging.getLogger(__name__)


def create_app(settings: IngestSettings, *, run_connectors: bool = True) -> FastAPI:
    """The ingest app: intake, API keys, webhooks and (if enabled) pull connectors."""
    # Keys first: without usable keys nothing else is worth building.
    api_keys = ApiKeys.load(settings.ingest_api_keys_file, allow_open=settings.ingest_allow_open)
    intake = Intake(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
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

    app = FastAPI(
        title="Switchboard ingest",
        version="0.1.0",
        description="Takes mentions in and writes them to Kafka; 202 means Kafka has it.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.intake = intake
    app.state.api_keys = api_keys
    app.state.limits = Limits(settings)
    app.include_router(router)
    app.include_router(webhooks.router)

    @app.exception_handler(ProblemError)
    async def problem_error(request: Request, exc: ProblemError) -> JSONResponse:
        return problem_response(
            exc.status, exc.kind, exc.title, exc.detail, headers=exc.headers, **exc.extra
        )

    @app.exception_handler(HTTPException)
    async def http_problem(request: Request, exc: HTTPException) -> JSONResponse:
        return problem_response(
            exc.status_code,
            "http",
            str(exc.detail),
            f"{request.method} {request.url.path}: {exc.detail}",
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(RequestValidationError)
    async def validation_problem(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"], "type": e["type"]}
            for e in exc.errors()
        ]
        return problem_response(
            422,
            "invalid-request",
            "Invalid request",
            f"{errors[0]['field']}: {errors[0]['message']}",
            errors=errors,
        )

    return app
