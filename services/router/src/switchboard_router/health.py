"""Liveness and readiness: `/healthz` (the process answers) and `/readyz` (the
database answers and the consumer is connected to Kafka)."""

from __future__ import annotations

from fastapi import Request

from switchboard_router.kafka.consumer import RouterConsumer
from switchboard_web.health import health_router, store_and_kafka_problems


async def _readiness(request: Request) -> list[str]:
    consumer: RouterConsumer = request.app.state.consumer
    return await store_and_kafka_problems(request.app.state.engine, consumer)


router = health_router("router", _readiness, needs="Kafka and the database work")
