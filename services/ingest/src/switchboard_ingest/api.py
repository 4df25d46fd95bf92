"""Intake routes: validate, publish, answer 202 only after Kafka's ack."""

from __future__ import annotations

import logging
import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ValidationError

from switchboard_ingest import metrics
from switchboard_ingest.publisher import KafkaUnavailable, Publisher
from switchboard_ingest.settings import IngestSettings
from switchboard_shared.events import MentionIn, MentionReceived
from switchboard_shared.logs import fields
from switchboard_shared.metrics import render
from switchboard_shared.problems import PROBLEM_CONTENT_TYPE, field_errors, problem

log = logging.getLogger(__name__)

router = APIRouter()


def get_publisher(request: Request) -> Publisher:
    """The app's publisher."""
    publisher: Publisher = request.app.state.publisher
    return publisher


def get_settings(request: Request) -> IngestSettings:
    """The app's settings."""
    settings: IngestSettings = request.app.state.settings
    return settings


PublisherDep = Annotated[Publisher, Depends(get_publisher)]
SettingsDep = Annotated[IngestSettings, Depends(get_settings)]


class Accepted(BaseModel):
    """The answer to an accepted mention."""

    mention_id: str
    status: str = "accepted"
    topic: str
    partition: int
    offset: int


def problem_response(status: int, kind: str, title: str, detail: str, **extra: Any) -> JSONResponse:
    """A problem document as a response."""
    headers = extra.pop("headers", None)
    return JSONResponse(
        problem(status, kind, title, detail, **extra),
        status_code=status,
        media_type=PROBLEM_CONTENT_TYPE,
        headers=headers,
    )


async def _read_json_body(request: Request, settings: IngestSettings) -> bytes | JSONResponse:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/json":
        metrics.REJECTED.labels("unsupported_media_type").inc()
        return problem_response(
            415,
            "unsupported-media-type",
            "Unsupported media type",
            f"content-type must be application/json, not {content_type or 'missing'!r}",
        )
    limit = settings.ingest_max_body_bytes
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        metrics.REJECTED.labels("too_large").inc()
        return problem_response(413, "too-large", "Body too large", f"body is over {limit} bytes")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            metrics.REJECTED.labels("too_large").inc()
            return problem_response(
                413, "too-large", "Body too large", f"body is over {limit} bytes"
            )
    return body


@router.post(
    "/v1/mentions",
    status_code=202,
    response_model=Accepted,
    summary="Submit one mention",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": MentionIn.model_json_schema()}},
        }
    },
    responses={
        415: {"description": "Not JSON"},
        413: {"description": "Body too large"},
        422: {"description": "Invalid mention; `errors` names each bad field"},
        503: {"description": "Kafka did not acknowledge; retry after `Retry-After` seconds"},
    },
)
async def submit_mention(
    request: Request, publisher: PublisherDep, settings: SettingsDep
) -> Response:
    """Validate one mention and answer 202 once Kafka has it."""
    started = time.perf_counter()
    response = await _submit(request, publisher, settings)
    metrics.REQUEST_SECONDS.labels("/v1/mentions", str(response.status_code)).observe(
        time.perf_counter() - started
    )
    return response


async def _submit(request: Request, publisher: Publisher, settings: IngestSettings) -> Response:
    body = await _read_json_body(request, settings)
    if isinstance(body, JSONResponse):
        return body
    try:
        mention = MentionIn.model_validate_json(body)
    except ValidationError as exc:
        errors = field_errors(exc)
        metrics.REJECTED.labels("invalid").inc()
        first = errors[0]
        return problem_response(
            422,
            "invalid-mention",
            "Invalid mention",
            f"{first['field']}: {first['message']}",
            errors=errors,
        )
    event = MentionReceived(mention_id=mention.mention_id, mention=mention)
    try:
        ack = await publisher.publish(event)
    except KafkaUnavailable as exc:
        metrics.UNAVAILABLE.labels(exc.cause).inc()
        retry_after = settings.ingest_retry_after_seconds
        log.warning(
            "mention refused: Kafka unavailable",
            extra=fields(mention_id=event.mention_id, cause=exc.cause),
        )
        return problem_response(
            503,
            "kafka-unavailable",
            "Temporarily unable to accept mentions",
            f"Kafka did not acknowledge the write ({exc.cause}); nothing was accepted, retry later",
            headers={"Retry-After": str(retry_after)},
        )
    metrics.ACCEPTED.labels(mention.source.value).inc()
    log.info(
        "mention accepted",
        extra=fields(
            mention_id=event.mention_id,
            source=mention.source.value,
            partition=ack.partition,
            offset=ack.offset,
        ),
    )
    return JSONResponse(
        Accepted(
            mention_id=event.mention_id, topic=ack.topic, partition=ack.partition, offset=ack.offset
        ).model_dump(),
        status_code=202,
    )


@router.get("/healthz", summary="The process is alive")
async def healthz() -> dict[str, str]:
    """Liveness: the process answers."""
    return {"status": "ok", "service": "ingest"}


@router.get("/readyz", summary="Kafka takes writes")
async def readyz(publisher: PublisherDep) -> JSONResponse:
    """Readiness: the producer is started and Kafka answers."""
    trouble = await publisher.check()
    if trouble:
        return JSONResponse({"status": "not ready", "problems": [trouble]}, status_code=503)
    return JSONResponse({"status": "ready"})


@router.get("/metrics", summary="Prometheus metrics")
async def metrics_view() -> Response:
    """Prometheus text exposition."""
    body, content_type = render()
    return Response(body, media_type=content_type)
