"""The responder's HTTP app (health and metrics only) around its consumer, built from settings."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy import Engine

from switchboard_responder import metrics
from switchboard_responder.channels import build_channels
from switchboard_responder.responder import Responder
from switchboard_responder.settings import ResponderSettings
from switchboard_shared.background import running
from switchboard_shared.logs import fields
from switchboard_web.app import worker_app
from switchboard_web.health import store_and_kafka_readiness

log = logging.getLogger(__name__)


def create_app(settings: ResponderSettings, engine: Engine) -> FastAPI:
    """The responder: its consumer runs for the app's lifetime; the app answers probes and scrapes."""

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
        async with running(app.state.metrics_server, responder):
            yield

    return worker_app(
        "responder",
        settings,
        description="Posts approved replies to the platforms, each attempt at most once.",
        lifespan=lifespan,
        readiness=store_and_kafka_readiness("responder"),
        needs="Kafka and the ledger's database work",
    )
