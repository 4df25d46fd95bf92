"""The notifier's HTTP app (health and metrics only) around its consumer and scheduler."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy import Engine
from starlette.exceptions import HTTPException

from switchboard_notifier import health, metrics
from switchboard_notifier.holder import PolicyHolder
from switchboard_notifier.notifier import AcknowledgementConsumer, EscalationConsumer, Scheduler
from switchboard_notifier.settings import NotifierSettings
from switchboard_shared.logs import fields
from switchboard_shared.metrics_server import METRICS_PATH, metrics_exposure, scrape
from switchboard_shared.problems import install_problem_handlers

log = logging.getLogger(__name__)


def create_app(settings: NotifierSettings, engine: Engine, policy: PolicyHolder) -> FastAPI:
    """The notifier: its loops run for the app's lifetime; the app answers probes and scrapes."""
    metrics_server, metrics_token = metrics_exposure(settings, "notifier")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        metrics.initialise()
        current = policy.current()
        log.info(
            "notification policy in force",
            extra=fields(
                version=current.version,
                channels=sorted(kind.value for kind in current.channels.configured()),
                rules=len(current.rules),
            ),
        )
        consumer = EscalationConsumer(settings, engine, policy)
        acknowledgements = AcknowledgementConsumer(settings, engine, policy)
        scheduler = Scheduler(settings, engine, policy)
        app.state.consumer = consumer
        app.state.acknowledgements = acknowledgements
        app.state.scheduler = scheduler
        if metrics_server is not None:
            metrics_server.start()
        consumer.start()
        acknowledgements.start()
        scheduler.start()
        try:
            yield
        finally:
            await scheduler.stop()
            await acknowledgements.stop()
            await consumer.stop()
            if metrics_server is not None:
                metrics_server.stop()

    app = FastAPI(
        title="Switchboard notifier",
        version="0.1.0",
        description="Pages the right person, once, when an item's SLA escalates.",
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
