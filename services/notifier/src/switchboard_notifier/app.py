"""The notifier's HTTP app around its consumers and scheduler: health, metrics and the
escalation acknowledgement route."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy import Engine

from switchboard_notifier import metrics
from switchboard_notifier.acknowledgements import acknowledgement_router
from switchboard_notifier.holder import PolicyHolder
from switchboard_notifier.notifier import AcknowledgementConsumer, EscalationConsumer, Scheduler
from switchboard_notifier.settings import NotifierSettings
from switchboard_shared.background import running
from switchboard_shared.logs import fields
from switchboard_web.app import service_app
from switchboard_web.health import health_router, store_and_kafka_readiness

log = logging.getLogger(__name__)


def create_app(settings: NotifierSettings, engine: Engine, policy: PolicyHolder) -> FastAPI:
    """The notifier: its loops run for the app's lifetime; the app answers probes and scrapes."""

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
        async with running(app.state.metrics_server, consumer, acknowledgements, scheduler):
            yield

    return service_app(
        "notifier",
        settings,
        description="Pages the right person, once, when an item's SLA escalates.",
        lifespan=lifespan,
        routers=[
            health_router(
                "notifier",
                store_and_kafka_readiness("consumer"),
                needs="Kafka and the database work",
            ),
            acknowledgement_router(settings, engine),
        ],
    )
