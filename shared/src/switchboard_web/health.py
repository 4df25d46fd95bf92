"""Liveness and readiness routes: `/healthz` (the process answers) and `/readyz` (what the
service needs answers: its database, its Kafka clients)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Protocol

from aiokafka import AIOKafkaProducer
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from switchboard_shared.database import ping
from switchboard_shared.kafka import unreachable

Readiness = Callable[[Request], Awaitable[list[str]]]


class KafkaMember(Protocol):
    """A background loop with a producer, set once it has joined its consumer group."""

    started: asyncio.Event
    producer: AIOKafkaProducer | None


class StoreAndKafkaMember(KafkaMember, Protocol):
    """A Kafka member that also writes to a database through `engine`."""

    engine: Engine


async def store_and_kafka_problems(engine: Engine, member: KafkaMember) -> list[str]:
    """What keeps a service with a database and a consumer from working, if anything."""
    problems = []
    try:
        await asyncio.to_thread(ping, engine)
    except SQLAlchemyError as exc:
        problems.append(f"database unreachable: {type(exc).__name__}")
    if not member.started.is_set() or member.producer is None:
        problems.append("kafka consumer not started")
    elif (problem := await unreachable(member.producer)) is not None:
        problems.append(problem)
    return problems


def store_and_kafka_readiness(member: str) -> Readiness:
    """Readiness of a service whose loop, kept on `app.state.<member>`, has an `engine` and
    a consumer: what `store_and_kafka_problems` finds."""

    async def readiness(request: Request) -> list[str]:
        loop: StoreAndKafkaMember = getattr(request.app.state, member)
        return await store_and_kafka_problems(loop.engine, loop)

    return readiness


def health_router(service: str, readiness: Readiness, *, needs: str) -> APIRouter:
    """`/healthz` naming the service, and `/readyz`: 200, or 503 listing the problems."""
    router = APIRouter()

    @router.get("/healthz", summary="The process is alive")
    async def healthz() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok", "service": service}

    @router.get(
        "/readyz",
        summary=needs,
        responses={503: {"description": "Not ready; `problems` says why"}},
    )
    async def readyz(request: Request) -> JSONResponse:
        problems = await readiness(request)
        if problems:
            return JSONResponse({"status": "not ready", "problems": problems}, status_code=503)
        return JSONResponse({"status": "ready"})

    return router
