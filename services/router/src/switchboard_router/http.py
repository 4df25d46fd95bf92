"""What every domain's views share: the problem answers they declare in OpenAPI, and
running a service call in a thread with its refusals turned into problem documents.

A route names its answer once, in its return annotation: FastAPI takes that as
the response model (validation, serialisation and the OpenAPI schema alike).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, TypeVar

from pydantic import BaseModel

from switchboard_router.items.steps import WorkError
from switchboard_router.people.service import Exists, Missing
from switchboard_shared.problems import ProblemError

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)


class Problem(BaseModel):
    """An RFC 9457 problem document; `errors` names each bad field."""

    type: str
    title: str
    status: int
    detail: str
    errors: list[dict[str, str]] | None = None


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the problem answers a route gives."""
    text = {
        401: "No valid bearer token",
        403: "Not allowed for this role",
        404: "No such thing (or not one you may see)",
        409: "The item's state does not allow this",
        413: "Body too large",
        422: "Invalid request; `errors` names each field",
    }
    return {code: {"model": Problem, "description": text[code]} for code in (401, 413, 422, *codes)}


def public(model: type[M], row: Mapping[str, Any], id_name: str) -> M:
    """A stored row as its public model, its `id` under the model's name for it; the
    columns the model does not show stay out (pydantic ignores unknown fields)."""
    return model(**{id_name: row["id"]}, **{k: v for k, v in row.items() if k != "id"})


def invalid(field: str, reason: str) -> ProblemError:
    """The 422 for one field, naming it and why it is refused."""
    return ProblemError(
        422, "invalid-request", "Invalid request", f"{field}: {reason}", field=field
    )


async def call(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a store call in a thread, turning its refusals into problem answers."""
    try:
        return await asyncio.to_thread(fn, *args, **kwargs)
    except WorkError as exc:
        raise ProblemError(
            exc.status, exc.kind, type(exc).__name__, exc.detail, field=exc.field
        ) from exc
    except Missing as exc:
        raise ProblemError(404, "not-found", "Not found", str(exc)) from exc
    except Exists as exc:
        raise ProblemError(409, "conflict", "Conflict", str(exc)) from exc


async def change(fn: Callable[..., T], engine: Any, by: Any, **kwargs: Any) -> T:
    """`call` for a change: stamped with the time now and who is acting (`by`), as every
    change's access-audit row must be."""
    return await call(fn, engine, now=datetime.now(UTC), by=by, **kwargs)
