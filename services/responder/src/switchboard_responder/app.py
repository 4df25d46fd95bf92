"""The responder's HTTP app (health and metrics only) around its consumer, built from settings."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from sqlalchemy import Engine

from switchboard_responder import metrics
from switchboard_responder.channels import build_channels
from switchboard_responder.responder import Responder
from switchboard_responder.settings import ResponderSettings
from switchboard_shared.background import running
from switchboard_shared.logs import fields
from switchboard_shared.metrics_server import metrics_exposure
from switchboard_web.app import service_app
from switchboard_web.health import health_router, store_and_kafka_problems

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
        async with running(metrics_server, responder):
            yield

    async def readiness(request: Request) -> list[str]:
        responder: Responder = request.app.state.responder
        return await store_and_kafka_problems(responder.engine, responder)

    return service_app(
        title="Switchboard responder",
        version="0.1.0",
        description="Posts approved replies to the platforms, each attempt at most once.",
        lifespan=lifespan,
        routers=[
            health_router("responder", readiness, needs="Kafka and the ledger's database work")
        ],
        metrics_server=metrics_server,
        metrics_token=metrics_token,
    )
