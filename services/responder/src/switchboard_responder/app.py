"""The responder's HTTP app (health and metrics only) around its consumer, built from settings."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy import Engine
from starlette.exceptions import HTTPException

from switchboard_responder import health, metrics
from switchboard_responder.channels import build_channels
from switchboard_responder.responder import Responder
from switchboard_responder.settings import ResponderSettings
from switchboard_shared.logs import fields
from switchboard_shared.metrics_server import METRICS_PATH, metrics_exposure, scrape
from switchboard_shared.problems import install_problem_handlers

log = logging.getLogger(__name__)


def create_app(settings: ResponderSettings, engine: Engine) -> FastAPI:
    """The responder: its consumer runs for the app's lifetime; the app answers probes and scrapes."""
    metrics_server, metrics_token = metrics_exposure(settings, "responder")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        channels = build_channels(settings)
        metrics.initialise(channels=[channel.name for channel in channels.values()])
        for source, channel in channels.items():
            log.info(
                "channel configured",
                extra=fields(
                    channel=channel.name, platform=channel.platform.value, source=source.value
                ),
            )
        responder = Responder(settings, engine, channels)
        app.state.responder = responder
        if metrics_server is not None:
            metrics_server.start()
        responder.start()
        try:
            yield
        finally:
            await responder.stop()
            if metrics_server is not None:
                metrics_server.stop()

    app = FastAPI(
        title="Switchboard responder",
        version="0.1.0",
        description="Posts approved replies to the platforms, each attempt at most once.",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.include_router(health.router)

    if metrics_server is None:  # with a metrics port of its own, this port has no /metrics

        @app.get(METRICS_PATH, include_in_schema=False)
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
