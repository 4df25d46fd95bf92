"""The FastAPI app every HTTP service starts from, with what they all serve the same way."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from contextlib import AbstractAsyncContextManager
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException

from switchboard_shared.metrics_server import METRICS_PATH, metrics_exposure, scrape
from switchboard_shared.problems import install_problem_handlers
from switchboard_shared.settings import api_docs_urls
from switchboard_web.health import Readiness, health_router

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


def service_app(
    service: str,
    settings: Any,
    *,
    version: str = "0.1.0",
    description: str,
    lifespan: Lifespan,
    routers: Iterable[APIRouter],
    api_docs: bool = False,
) -> FastAPI:
    """An app with the service's routes, `/metrics` on its own port unless the metrics have
    a port of their own, and errors as RFC 9457 problem documents.

    The service's settings are left on `app.state.settings`, and its metrics listener (None
    unless the metrics have a port of their own) on `app.state.metrics_server`, for
    `lifespan` to start first, before the parts it watches.
    """
    metrics_server, metrics_token = metrics_exposure(settings, service)
    app = FastAPI(
        title=f"Switchboard {service}",
        version=version,
        description=description,
        lifespan=lifespan,
        **api_docs_urls(api_docs),
    )
    for router in routers:
        app.include_router(router)

    if metrics_server is None:  # with a metrics port of its own, this port has no /metrics

        @app.get(METRICS_PATH, summary="Prometheus metrics", include_in_schema=False)
        async def metrics_view(request: Request) -> Response:
            # The last reading of every metric: a scrape never does the service's work.
            status, body, headers = scrape(request.headers.get("authorization"), metrics_token)
            return Response(body, status_code=status, headers=headers)

    install_problem_handlers(
        app,
        response=JSONResponse,
        http_exception=HTTPException,
        validation_exception=RequestValidationError,
    )
    app.state.settings = settings
    app.state.metrics_server = metrics_server
    return app


def worker_app(
    service: str,
    settings: Any,
    *,
    description: str,
    lifespan: Lifespan,
    readiness: Readiness,
    needs: str,
) -> FastAPI:
    """The app of a service whose work is background loops: /healthz, /readyz and /metrics only."""
    return service_app(
        service,
        settings,
        description=description,
        lifespan=lifespan,
        routers=[health_router(service, readiness, needs=needs)],
    )
