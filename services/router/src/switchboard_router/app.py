"""The router FastAPI app, built by a factory from settings."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy import Engine
from starlette.exceptions import HTTPException

from switchboard_router.api import router
from switchboard_router.consumer import RouterConsumer
from switchboard_router.routing import Policy
from switchboard_router.settings import RouterSettings
from switchboard_shared.problems import PROBLEM_CONTENT_TYPE, problem


def create_app(
    settings: RouterSettings, engine: Engine, policy: Policy, *, consume: bool = True
) -> FastAPI:
    """The router app: API over `engine`, and (unless told not to) the Kafka consumer."""
    consumer = RouterConsumer(settings, engine, policy)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if consume:
            consumer.start()
        try:
            yield
        finally:
            await consumer.stop()

    app = FastAPI(
        title="Switchboard router",
        version="0.1.0",
        description="Officer queues of classified mentions.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.policy = policy
    app.state.consumer = consumer
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
