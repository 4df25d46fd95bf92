"""The ingest FastAPI app, built by a factory from settings."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from switchboard_ingest.api import router
from switchboard_ingest.publisher import Publisher
from switchboard_ingest.settings import IngestSettings
from switchboard_shared.problems import PROBLEM_CONTENT_TYPE, problem


def create_app(settings: IngestSettings) -> FastAPI:
    """The ingest app with its publisher wired in."""
    publisher = Publisher(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        publisher.start()
        try:
            yield
        finally:
            await publisher.stop()

    app = FastAPI(
        title="Switchboard ingest",
        version="0.1.0",
        description="Takes mentions in and writes them to Kafka; 202 means Kafka has it.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.publisher = publisher
    app.include_router(router)

    @app.exception_handler(HTTPException)
    async def http_problem(request: Request, exc: HTTPException) -> JSONResponse:
        return JSONResponse(
            problem(
                exc.status_code,
                "http",
                str(exc.detail),
                f"{request.method} {request.url.path}: {exc.detail}",
            ),
            status_code=exc.status_code,
            media_type=PROBLEM_CONTENT_TYPE,
        )

    @app.exception_handler(RequestValidationError)
    async def validation_problem(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"], "type": e["type"]}
            for e in exc.errors()
        ]
        return JSONResponse(
            problem(
                422,
                "invalid-request",
                "Invalid request",
                f"{errors[0]['field']}: {errors[0]['message']}",
                errors=errors,
            ),
            status_code=422,
            media_type=PROBLEM_CONTENT_TYPE,
        )

    return app
