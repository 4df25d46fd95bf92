"""The router FastAPI app, built by a factory from settings.

Besides the API the app runs five background tasks: the Kafka consumers
(classified mentions in; the responder's reply outcomes in), the outbox relay
(work-step events and reply requests out), the
clock (lease expiry, SLA breaches, escalation, assignment, policy reload)
and the reading of the database gauges that /metrics serves (`gauges.py`).
/metrics is served on the API port or, with `SWITCHBOARD_ROUTER_METRICS_PORT`,
only on a port of its own; the API docs only with `SWITCHBOARD_ROUTER_API_DOCS`.
`consume=False` leaves Kafka out entirely (events wait in the outbox);
`clock=False` leaves the clock out (tests drive `clock.tick` themselves).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from switchboard_router import health, metrics
from switchboard_router.audit import service as access
from switchboard_router.audit import views as audit_views
from switchboard_router.audit.retention import Retention
from switchboard_router.console import views as console_views
from switchboard_router.districts import views as district_views
from switchboard_router.gauges import GaugeRefresher
from switchboard_router.incidents import views as incident_views
from switchboard_router.incidents.clustering import ClusteringConfig
from switchboard_router.items import views as item_views
from switchboard_router.kafka.consumer import RouterConsumer
from switchboard_router.kafka.outcomes import OutcomeConsumer
from switchboard_router.kafka.relay import OutboxRelay
from switchboard_router.middleware import TokenRateLimit
from switchboard_router.people import views as people_views
from switchboard_router.queues import views as queue_views
from switchboard_router.replies import views as reply_views
from switchboard_router.routing import views as routing_views
from switchboard_router.routing.holder import PolicyHolder
from switchboard_router.routing.policy import Policy
from switchboard_router.scheduler import Scheduler
from switchboard_router.settings import RouterSettings
from switchboard_shared.background import running
from switchboard_shared.districts import load_map
from switchboard_shared.logs import fields
from switchboard_shared.problems import (
    PROBLEM_CONTENT_TYPE,
    problem,
)
from switchboard_shared.ratelimit import Limit, RateLimiter
from switchboard_web.app import service_app

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class BodyLimit:
    """Answers 413 to a request body larger than `limit` bytes, declared or streamed."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await self._too_large(send)
            return
        seen = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise _TooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _TooLarge:
            if not started:
                await self._too_large(send)

    async def _too_large(self, send: Send) -> None:
        body = JSONResponse(
            problem(413, "too-large", "Body too large", f"body: at most {self.limit} bytes"),
            status_code=413,
            media_type=PROBLEM_CONTENT_TYPE,
        )
        await send({"type": "http.response.start", "status": 413, "headers": body.raw_headers})
        await send({"type": "http.response.body", "body": body.body})


class _TooLarge(Exception):
    pass


def create_app(
    settings: RouterSettings,
    engine: Engine,
    policy: Policy | PolicyHolder,
    *,
    consume: bool = True,
    clock: bool = True,
) -> FastAPI:
    """The router app over `engine`, with (unless told not to) Kafka and the clock."""
    policies = policy if isinstance(policy, PolicyHolder) else PolicyHolder(policy)
    metrics.initialise(policies.current())
    # Read once at start-up: a bad incidents file fails start-up, naming the field.
    clustering = ClusteringConfig.load(settings.router_incidents_path)
    consumer = RouterConsumer(settings, engine, policies, clustering=clustering)
    outcomes = OutcomeConsumer(settings, engine)
    relay = OutboxRelay(settings, engine, lambda: consumer.producer if consume else None)

    def after_tick() -> None:
        relay.wake()

    def current_policy() -> Policy:
        previous = policies.current().version
        if policies.maybe_reload():
            # A policy change moves mentions between desks: who may see what changes with it.
            version = policies.current().version
            try:
                reload = access.Access(
                    access.ROUTER,
                    access.AccessAction.POLICY_RELOADED,
                    obj=f"policy:{version}",
                    details={"previous": previous, "path": str(policies.path)},
                )
                access.record_read(engine, reload, now=datetime.now(UTC))
            except SQLAlchemyError as exc:
                # The clock must keep ticking; the log line is then the only trace.
                log.error(
                    "routing policy change not recorded in the access audit",
                    extra=fields(version=version, previous=previous, error=type(exc).__name__),
                )
        return policies.current()

    scheduler = Scheduler(
        engine,
        policy=current_policy,
        lease_seconds=settings.router_lease_seconds,
        interval=settings.router_clock_seconds,
        after_tick=after_tick,
        retention=Retention.days(
            settings.router_redact_after_days,
            settings.router_delete_after_days,
            settings.router_access_audit_days,
        ),
    )
    gauges = GaugeRefresher(
        engine, policy=policies.current, interval=settings.router_metrics_refresh_seconds
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # A router that does not consume or tick serves the API over the store alone.
        async with running(
            app.state.metrics_server,
            gauges,
            consumer if consume else None,
            outcomes if consume else None,
            relay,
            scheduler if clock else None,
        ):
            yield

    # Each domain declares its own routes; the order is the API document's.
    domains = (
        queue_views,
        people_views,
        item_views,
        incident_views,
        reply_views,
        routing_views,
        audit_views,
        district_views,
        health,
        console_views,
    )
    app = service_app(
        "router",
        settings,
        version="0.2.0",
        description=(
            "Officer queues of classified mentions: claim, acknowledge, transfer and resolve "
            "items; SLAs and escalation; officers, tokens and memberships. Send "
            "`Authorization: Bearer <token>`. Errors are RFC 9457 problem documents."
        ),
        lifespan=lifespan,
        routers=[domain.router for domain in domains],
        api_docs=settings.router_api_docs,
    )
    app.state.engine = engine
    app.state.district_map = load_map(settings.router_districts_path)
    app.state.policies = policies
    app.state.consumer = consumer
    app.state.clustering = clustering
    app.state.outcomes = outcomes
    app.state.relay = relay
    app.state.scheduler = scheduler
    app.state.gauges = gauges

    app.add_middleware(BodyLimit, limit=settings.router_max_body_bytes)  # type: ignore[arg-type]
    token_limit = Limit(settings.router_token_rate_per_second, settings.router_token_burst)
    app.add_middleware(TokenRateLimit, limiter=RateLimiter(token_limit))  # type: ignore[arg-type]

    def openapi() -> dict[str, Any]:
        # Error answers are problem documents: say so, so clients (and schemathesis) expect it.
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title, version=app.version, description=app.description, routes=app.routes
            )
            for operations in schema.get("paths", {}).values():
                for operation in operations.values():
                    for answer in operation.get("responses", {}).values():
                        content = answer.get("content", {})
                        body = content.get("application/json")
                        if body and body.get("schema", {}).get("$ref", "").endswith("/Problem"):
                            content[PROBLEM_CONTENT_TYPE] = content.pop("application/json")
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app
