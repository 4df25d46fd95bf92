"""The router's HTTP API: queues and their items, health and metrics."""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import AfterValidator, BaseModel
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from switchboard_router import metrics, store
from switchboard_router.consumer import RouterConsumer
from switchboard_shared.metrics import render
from switchboard_shared.problems import PROBLEM_CONTENT_TYPE, problem

router = APIRouter()


def get_engine(request: Request) -> Engine:
    """The app's database engine."""
    engine: Engine = request.app.state.engine
    return engine


EngineDep = Annotated[Engine, Depends(get_engine)]


def _aware(value: datetime) -> datetime:
    # SQLite hands back naive datetimes; everything stored is UTC.
    return value if value.tzinfo else value.replace(tzinfo=UTC)


UtcDatetime = Annotated[datetime, AfterValidator(_aware)]


class QueuePublic(BaseModel):
    """A queue and its open backlog."""

    queue_id: str
    depth: int
    oldest_received_at: UtcDatetime | None
    top_urgency_rank: int | None


class QueueList(BaseModel):
    """Every queue."""

    queues: list[QueuePublic]


class ItemPublic(BaseModel):
    """A queue item with the classifier's reasons and the rule that placed it."""

    item_id: int
    mention_id: str
    queue_id: str
    status: str
    urgency: str
    score: float
    topics: list[str]
    reasons: list[dict[str, Any]]
    rule: str
    ruleset_version: str
    policy_version: str
    source: str
    source_id: str
    text: str
    received_at: UtcDatetime
    classified_at: UtcDatetime
    queued_at: UtcDatetime


class ItemPage(BaseModel):
    """One page of a queue, most urgent then oldest first."""

    queue_id: str
    items: list[ItemPublic]
    next_cursor: str | None


def _encode_cursor(row: dict[str, Any]) -> str:
    key = [row["urgency_rank"], _aware(row["received_at"]).isoformat(), row["id"]]
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode()


def _decode_cursor(cursor: str) -> tuple[int, datetime, int]:
    try:
        rank, received, item_id = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        return int(rank), datetime.fromisoformat(received), int(item_id)
    except (binascii.Error, ValueError, TypeError, json.JSONDecodeError) as exc:
        raise ValueError("not a cursor this API issued") from exc


def _problem(status: int, kind: str, title: str, detail: str, **extra: Any) -> JSONResponse:
    return JSONResponse(
        problem(status, kind, title, detail, **extra),
        status_code=status,
        media_type=PROBLEM_CONTENT_TYPE,
    )


@router.get("/v1/queues", response_model=QueueList, summary="Queues and their open backlog")
def get_queues(engine: EngineDep) -> QueueList:
    """Every queue with its depth and oldest open item."""
    return QueueList(queues=[QueuePublic(**q) for q in store.list_queues(engine)])


@router.get(
    "/v1/queues/{queue_id}/items",
    response_model=ItemPage,
    summary="Items of a queue, most urgent first",
    responses={404: {"description": "No such queue"}, 422: {"description": "Bad cursor or limit"}},
)
def get_queue_items(
    queue_id: str,
    engine: EngineDep,
    limit: Annotated[int, Query(ge=1, le=200, description="Items per page.")] = 50,
    cursor: Annotated[str | None, Query(description="`next_cursor` of the previous page.")] = None,
) -> Response | ItemPage:
    """A page of a queue's items ordered by urgency then age."""
    after = None
    if cursor is not None:
        try:
            after = _decode_cursor(cursor)
        except ValueError as exc:
            return _problem(
                422,
                "invalid-request",
                "Invalid request",
                f"query.cursor: {exc}",
                errors=[{"field": "query.cursor", "message": str(exc), "type": "value_error"}],
            )
    if not store.queue_exists(engine, queue_id=queue_id):
        return _problem(404, "not-found", "No such queue", f"queue {queue_id!r} does not exist")
    rows = store.list_items(engine, queue_id=queue_id, limit=limit + 1, after=after)
    page, more = rows[:limit], len(rows) > limit
    return ItemPage(
        queue_id=queue_id,
        items=[
            ItemPublic(
                item_id=row["id"], **{k: v for k, v in row.items() if k in ItemPublic.model_fields}
            )
            for row in page
        ],
        next_cursor=_encode_cursor(page[-1]) if more else None,
    )


@router.get("/healthz", summary="The process is alive")
async def healthz() -> dict[str, str]:
    """Liveness: the process answers."""
    return {"status": "ok", "service": "router"}


@router.get("/readyz", summary="Kafka and the database work")
async def readyz(request: Request, engine: EngineDep) -> JSONResponse:
    """Readiness: the database answers and the consumer is connected to Kafka."""
    problems = []
    try:
        await asyncio.to_thread(store.ping, engine)
    except SQLAlchemyError as exc:
        problems.append(f"database unreachable: {type(exc).__name__}")
    consumer: RouterConsumer = request.app.state.consumer
    if not consumer.started.is_set() or consumer.producer is None:
        problems.append("kafka consumer not started")
    else:
        try:
            await asyncio.wait_for(consumer.producer.client.fetch_all_metadata(), 2.0)
        except Exception as exc:
            problems.append(f"kafka unreachable: {exc!r}")
    if problems:
        return JSONResponse({"status": "not ready", "problems": problems}, status_code=503)
    return JSONResponse({"status": "ready"})


@router.get("/metrics", summary="Prometheus metrics")
def metrics_view(engine: EngineDep) -> Response:
    """Prometheus text exposition, with queue gauges read from the store."""
    try:
        now = datetime.now(UTC)
        for q in store.list_queues(engine):
            metrics.QUEUE_DEPTH.labels(q["queue_id"]).set(q["depth"])
            oldest = q["oldest_received_at"]
            age = (now - _aware(oldest)).total_seconds() if oldest else 0.0
            metrics.QUEUE_OLDEST_SECONDS.labels(q["queue_id"]).set(age)
    except SQLAlchemyError:
        pass  # the scrape still answers; /readyz reports the database
    body, content_type = render()
    return Response(body, media_type=content_type)
