"""HTTP intake routes: one mention, a batch, the published schema and health.

/metrics is the app's (`app.py`): where and to whom it is served is a setting.
"""

from __future__ import annotations

import asyncio
import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ValidationError

from switchboard_ingest import metrics
from switchboard_ingest.auth import ApiKey, ApiKeys, forbidden
from switchboard_ingest.doors import UNKNOWN_SOURCE, Door, LimitedDoor, Rejection
from switchboard_ingest.http import (
    IntakeDep,
    SettingsDep,
    invalid_request,
    read_body,
    timed,
    unavailable,
)
from switchboard_ingest.intake import Intake, Outcome
from switchboard_ingest.limits import Limits, LimitsDep
from switchboard_ingest.publisher import KafkaUnavailable
from switchboard_ingest.settings import IngestSettings
from switchboard_shared.events import MentionIn
from switchboard_shared.problems import ProblemError, field_errors

router = APIRouter()


def authenticate(request: Request) -> ApiKey | None:
    """The caller's API key (None when intake is open); 401 without a valid one."""
    keys: ApiKeys = request.app.state.api_keys
    try:
        return keys.authenticate(request)
    except ProblemError:
        metrics.REJECTED.labels(Rejection.UNAUTHORIZED, UNKNOWN_SOURCE).inc()
        raise


CallerKey = Annotated[ApiKey | None, Depends(authenticate)]


def _agency(key: ApiKey | None) -> str | None:
    """Whose namespace the caller's submitter-scoped mention ids are in (None: open intake)."""
    return key.agency if key is not None else None


class Accepted(BaseModel):
    """The answer to a mention Kafka has (202) or already had (200, duplicate)."""

    mention_id: str
    status: Literal["accepted", "duplicate"]
    topic: str | None = None
    partition: int | None = None
    offset: int | None = None


class ItemResult(BaseModel):
    """The outcome of one item of a batch."""

    index: int
    status: Literal["accepted", "duplicate", "invalid", "forbidden", "unavailable"]
    mention_id: str | None = None
    detail: str | None = None
    errors: list[dict[str, str]] | None = None


class BatchResult(BaseModel):
    """Per-item outcomes of a batch, and their counts."""

    results: list[ItemResult]
    counts: dict[str, int]


def _invalid(exc: ValidationError, *, prefix: tuple[str | int, ...] = ()) -> ProblemError:
    errors = field_errors(exc, prefix=prefix)
    first = errors[0]
    return ProblemError(
        422,
        "invalid-mention",
        "Invalid mention",
        f"{first['field']}: {first['message']}",
        errors=errors,
    )


_SCHEMA = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": MentionIn.model_json_schema()}},
    }
}
_BATCH_SCHEMA = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["mentions"],
                    "additionalProperties": False,
                    "properties": {
                        "mentions": {"type": "array", "items": MentionIn.model_json_schema()}
                    },
                }
            }
        },
    }
}
_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "No valid API key"},
    403: {"description": "The key may not post for this source"},
    413: {"description": "Body too large"},
    415: {"description": "Not application/json"},
    422: {"description": "Invalid; `errors` names each bad field"},
    429: {
        "description": "The key's rate limit is reached; nothing accepted; retry after `Retry-After` seconds"
    },
    503: {
        "description": "Kafka did not acknowledge; nothing accepted; retry after `Retry-After` seconds"
    },
}


@router.post(
    "/v1/mentions",
    status_code=202,
    response_model=Accepted,
    summary="Submit one mention",
    openapi_extra=_SCHEMA,
    responses={200: {"description": "Duplicate: already accepted", "model": Accepted}, **_ERRORS},
)
async def submit_mention(
    request: Request, intake: IntakeDep, settings: SettingsDep, key: CallerKey, limits: LimitsDep
) -> Response:
    """Validate one mention; 202 once Kafka has it, 200 if it already had it."""
    async with timed("/v1/mentions") as timing:
        limits.charge_key(request, key, door=LimitedDoor.API)
        body = await read_body(request, settings)
        try:
            mention = MentionIn.model_validate_json(body)
        except ValidationError as exc:
            metrics.REJECTED.labels(Rejection.INVALID, UNKNOWN_SOURCE).inc()
            raise _invalid(exc) from exc
        if key is not None and not key.allows(mention.source.value):
            metrics.REJECTED.labels(Rejection.FORBIDDEN, mention.source.value).inc()
            raise forbidden(key, mention.source.value)
        try:
            result = await intake.submit(mention, via=Door.API, agency=_agency(key))
        except KafkaUnavailable as exc:
            raise unavailable(exc.cause, settings.ingest_retry_after_seconds) from exc
        if result.outcome is Outcome.DUPLICATE:
            timing.status = 200
            return JSONResponse(
                Accepted(mention_id=result.mention_id, status="duplicate").model_dump(),
                status_code=200,
            )
        assert result.ack is not None
        timing.status = 202
        answer = Accepted(
            mention_id=result.mention_id,
            status="accepted",
            topic=result.ack.topic,
            partition=result.ack.partition,
            offset=result.ack.offset,
        )
        return JSONResponse(answer.model_dump(), status_code=202)


@router.post(
    "/v1/mentions/batch",
    response_model=BatchResult,
    summary="Submit up to the configured number of mentions; one result per item",
    openapi_extra=_BATCH_SCHEMA,
    responses={
        202: {"description": "Every item accepted or duplicate", "model": BatchResult},
        207: {"description": "Mixed outcomes; see each item", "model": BatchResult},
        **_ERRORS,
    },
)
async def submit_batch(
    request: Request, intake: IntakeDep, settings: SettingsDep, key: CallerKey, limits: LimitsDep
) -> Response:
    """Validate and submit each item on its own: one bad item does not reject the good ones."""
    async with timed("/v1/mentions/batch") as timing:
        response = await _submit_batch(request, intake, settings, key, limits)
        timing.status = response.status_code
        return response


async def _submit_batch(
    request: Request, intake: Intake, settings: IngestSettings, key: ApiKey | None, limits: Limits
) -> Response:
    body = await read_body(request, settings)
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        metrics.REJECTED.labels(Rejection.INVALID, UNKNOWN_SOURCE).inc()
        raise invalid_request("(body)", f"not JSON: {exc}", kind="json_invalid") from exc
    if (
        not isinstance(payload, dict)
        or set(payload) != {"mentions"}
        or not isinstance(payload["mentions"], list)
    ):
        metrics.REJECTED.labels(Rejection.INVALID, UNKNOWN_SOURCE).inc()
        raise invalid_request(
            "mentions",
            "an object with only a 'mentions' list",
            detail='mentions: an object {"mentions": [...]} is required',
        )
    items = payload["mentions"]
    limit = settings.ingest_batch_max_items
    if not items or len(items) > limit:
        metrics.REJECTED.labels(Rejection.INVALID, UNKNOWN_SOURCE).inc()
        raise invalid_request(
            "mentions",
            f"between 1 and {limit} items",
            detail=f"mentions: between 1 and {limit} items are required",
        )

    # Every item costs one, valid or not: the limit is on what a key sends.
    limits.charge_key(request, key, door=LimitedDoor.API_BATCH, cost=len(items))
    results: list[ItemResult | None] = [None] * len(items)
    to_submit = []
    for index, item in enumerate(items):
        try:
            mention = MentionIn.model_validate(item)
        except ValidationError as exc:
            metrics.REJECTED.labels(Rejection.INVALID, UNKNOWN_SOURCE).inc()
            errors = field_errors(exc, prefix=("mentions", index))
            results[index] = ItemResult(
                index=index,
                status="invalid",
                detail=f"{errors[0]['field']}: {errors[0]['message']}",
                errors=errors,
            )
            continue
        if key is not None and not key.allows(mention.source.value):
            metrics.REJECTED.labels(Rejection.FORBIDDEN, mention.source.value).inc()
            results[index] = ItemResult(
                index=index,
                status="forbidden",
                mention_id=mention.mention_id_from(_agency(key)),
                detail=f"mentions.{index}.source: key {key.name!r} may not post mentions from {mention.source.value!r}",
            )
            continue
        to_submit.append((index, mention))

    async def one(index: int, mention: MentionIn) -> ItemResult:
        try:
            result = await intake.submit(mention, via=Door.API_BATCH, agency=_agency(key))
        except KafkaUnavailable as exc:
            return ItemResult(
                index=index,
                status="unavailable",
                mention_id=mention.mention_id_from(_agency(key)),
                detail=f"Kafka did not acknowledge ({exc.cause}); retry this item",
            )
        return ItemResult(index=index, status=result.outcome.value, mention_id=result.mention_id)

    for outcome in await asyncio.gather(*(one(i, m) for i, m in to_submit)):
        results[outcome.index] = outcome
    final = [r for r in results if r is not None]
    counts: dict[str, int] = {}
    for r in final:
        counts[r.status] = counts.get(r.status, 0) + 1
    statuses = set(counts)
    headers = None
    if statuses <= {"accepted", "duplicate"}:
        code = 202
    elif statuses == {"invalid"}:
        code = 422
    elif statuses == {"unavailable"}:
        code = 503
        headers = {"Retry-After": str(settings.ingest_retry_after_seconds)}
    else:
        code = 207
        if "unavailable" in statuses:
            headers = {"Retry-After": str(settings.ingest_retry_after_seconds)}
    return JSONResponse(
        BatchResult(results=final, counts=counts).model_dump(exclude_none=True),
        status_code=code,
        headers=headers,
    )


@router.get("/v1/schemas/mention.v1.json", summary="The canonical mention, as JSON Schema")
async def mention_schema() -> JSONResponse:
    """The JSON Schema every intake path validates against."""
    return JSONResponse(MentionIn.model_json_schema(), media_type="application/schema+json")


@router.get("/healthz", summary="The process is alive")
async def healthz() -> dict[str, str]:
    """Liveness: the process answers."""
    return {"status": "ok", "service": "ingest"}


@router.get("/readyz", summary="Kafka takes writes and duplicates are known")
async def readyz(intake: IntakeDep) -> JSONResponse:
    """Readiness: the producer is started, Kafka answers and the duplicate memory is warm."""
    problems = await intake.check()
    if problems:
        return JSONResponse({"status": "not ready", "problems": problems}, status_code=503)
    return JSONResponse({"status": "ready"})
