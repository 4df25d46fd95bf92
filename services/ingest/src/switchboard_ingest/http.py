"""HTTP plumbing the ingest routes share: dependencies and the answers they raise."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from switchboard_ingest import metrics
from switchboard_ingest.doors import UNKNOWN_SOURCE, Rejection
from switchboard_ingest.intake import Intake
from switchboard_ingest.settings import IngestSettings
from switchboard_shared.problems import ProblemError
from switchboard_web.state import app_state

IntakeDep = Annotated[Intake, Depends(app_state("intake", Intake))]
SettingsDep = Annotated[IngestSettings, Depends(app_state("settings", IngestSettings))]


def unavailable(cause: str, retry_after: int) -> ProblemError:
    """The 503 answer when Kafka cannot take a write."""
    return ProblemError(
        503,
        "kafka-unavailable",
        "Temporarily unable to accept mentions",
        f"Kafka did not acknowledge the write ({cause}); nothing was accepted, retry later",
        headers={"Retry-After": str(retry_after)},
    )


async def read_body(
    request: Request, settings: IngestSettings, *, require_json: bool = True
) -> bytes:
    """The raw body, refusing a wrong content type (415) or an oversized body (413)."""
    if require_json:
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != "application/json":
            metrics.REJECTED.labels(Rejection.UNSUPPORTED_MEDIA_TYPE, UNKNOWN_SOURCE).inc()
            raise ProblemError(
                415,
                "unsupported-media-type",
                "Unsupported media type",
                f"content-type must be application/json, not {content_type or 'missing'!r}",
            )
    limit = settings.ingest_max_body_bytes
    declared = request.headers.get("content-length")
    too_large = ProblemError(413, "too-large", "Body too large", f"body is over {limit} bytes")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        metrics.REJECTED.labels(Rejection.TOO_LARGE, UNKNOWN_SOURCE).inc()
        raise too_large
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            metrics.REJECTED.labels(Rejection.TOO_LARGE, UNKNOWN_SOURCE).inc()
            raise too_large
    return bytes(body)


def invalid_request(
    field: str, message: str, *, kind: str = "value_error", detail: str | None = None
) -> ProblemError:
    """The 422 for a request whose `field` is wrong; `detail` defaults to "field: message"."""
    return ProblemError(
        422,
        "invalid-request",
        "Invalid request",
        detail if detail is not None else f"{field}: {message}",
        errors=[{"field": field, "message": message, "type": kind}],
    )


@dataclass
class Timing:
    """The status a timed request answered with: 200 unless the route says otherwise."""

    status: int = 200


@asynccontextmanager
async def timed(route: str) -> AsyncIterator[Timing]:
    """Observe a request's duration under its route and final status (500 for an unexpected error)."""
    started = time.perf_counter()
    timing = Timing()
    try:
        yield timing
    except ProblemError as exc:
        timing.status = exc.status
        raise
    except BaseException:
        timing.status = 500
        raise
    finally:
        metrics.REQUEST_SECONDS.labels(route, str(timing.status)).observe(
            time.perf_counter() - started
        )
