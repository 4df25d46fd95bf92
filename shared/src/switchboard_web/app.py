"""The FastAPI app every HTTP service starts from, with what they all serve the same way."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from contextlib import AbstractAsyncContextManager
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException

from switchboard_shared.metrics_server import METRICS_PATH, MetricsServer, scrape
from switchboard_shared.problems import install_problem_handlers
from switchboard_shared.settings import api_docs_urls

NO_DOCS = api_docs_urls(False)


def service_app(
    *,
    title: str,
    version: str,
    description: str,
    lifespan: Callable[[FastAPI], AbstractAsyncContextManager[None]],
    routers: Iterable[APIRouter],
    metrics_server: MetricsServer | None,
    metrics_token: str | None,
    docs: dict[str, Any] = NO_DOCS,
) -> FastAPI:
    """An app with the service's routes, `/metrics` on its own port unless the metrics have
    a port of their own, and errors as RFC 9457 problem documents."""
    app = FastAPI(title=title, version=version, description=description, lifespan=lifespan, **docs)
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
    return app
