"""Liveness and readiness: `/healthz` (the process answers) and `/readyz` (the database
answers and the consumer is connected to Kafka)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError

from switchboard_notifier.notifier import EscalationConsumer
from switchboard_shared.database import ping
from switchboard_shared.kafka import unreachable

router = APIRouter()


@router.get("/healthz", summary="The process is alive")
async def healthz() -> dict[str, str]:
    """Liveness: the process answers."""
    return {"status": "ok", "service": "notifier"}


@router.get(
    "/readyz",
    summary="Kafka and the database work",
    responses={503: {"description": "Not ready; `problems` says why"}},
)
async def readyz(request: Request) -> JSONResponse:
    """Readiness: the database answers and the consumer is connected to Kafka."""
    consumer: EscalationConsumer = request.app.state.consumer
    problems = []
    try:
        await asyncio.to_thread(ping, consumer.engine)
    except SQLAlchemyError as exc:
        problems.append(f"database unreachable: {type(exc).__name__}")
    if not consumer.started.is_set() or consumer.producer is None:
        problems.append("kafka consumer not started")
    elif (problem := await unreachable(consumer.producer)) is not None:
        problems.append(problem)
    if problems:
        return JSONResponse({"status": "not ready", "problems": problems}, status_code=503)
    return JSONResponse({"status": "ready"})
