"""RFC 9457 problem documents: the one module both HTTP services answer errors with.

Every error answer names what was wrong: `errors` lists each bad field as a
dotted path with a message, and `detail` repeats the first one for humans.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import ValidationError

PROBLEM_CONTENT_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "https://switchboard.invalid/problems/"


def field_errors(
    exc: ValidationError, *, prefix: tuple[str | int, ...] = ()
) -> list[dict[str, str]]:
    """One entry per invalid field: its dotted path, message and error type."""
    out = []
    for error in exc.errors(include_url=False):
        path = ".".join(str(part) for part in (*prefix, *error["loc"])) or "(body)"
        out.append({"field": path, "message": error["msg"], "type": error["type"]})
    return out


def problem(status: int, kind: str, title: str, detail: str, **extra: Any) -> dict[str, Any]:
    """A problem document: `type`, `title`, `status`, `detail` and any extra members."""
    return {
        "type": PROBLEM_TYPE_BASE + kind,
        "title": title,
        "status": status,
        "detail": detail,
        **extra,
    }


class ProblemError(Exception):
    """Raised by a route or dependency to answer with a problem document.

    `field` names the one field at fault (it becomes the document's `errors`);
    any other keyword becomes a member of the document.
    """

    def __init__(
        self,
        status: int,
        kind: str,
        title: str,
        detail: str,
        *,
        field: str | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.status, self.kind, self.title, self.detail = status, kind, title, detail
        self.field, self.headers = field, headers
        if field:
            extra.setdefault("errors", [{"field": field, "message": detail, "type": kind}])
        self.extra = extra

    def document(self) -> dict[str, Any]:
        """The problem document this error answers with."""
        return problem(self.status, self.kind, self.title, self.detail, **self.extra)


def invalid_request(errors: list[dict[str, Any]]) -> ProblemError:
    """The 422 for a request the framework's validation refused (its `errors()` list)."""
    fields = [
        {"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"], "type": e["type"]}
        for e in errors
    ]
    return ProblemError(
        422,
        "invalid-request",
        "Invalid request",
        f"{fields[0]['field']}: {fields[0]['message']}",
        errors=fields,
    )


def http_error(status: int, detail: Any, method: str, path: str, headers: Any) -> ProblemError:
    """The answer for the framework's own HTTP errors (404 for an unknown path, 405...)."""
    return ProblemError(status, "http", str(detail), f"{method} {path}: {detail}", headers=headers)


def install_problem_handlers(
    app: Any,
    *,
    response: Callable[..., Any],
    http_exception: type[Exception],
    validation_exception: type[Exception],
) -> None:
    """Answer `ProblemError`, the framework's HTTP errors and its request validation errors
    with problem documents. The framework's classes are handed in, so this module imports
    no web framework: `response` is its JSON response class."""

    def answer(exc: ProblemError) -> Any:
        return response(
            exc.document(),
            status_code=exc.status,
            media_type=PROBLEM_CONTENT_TYPE,
            headers=exc.headers,
        )

    async def problem_error(request: Any, exc: ProblemError) -> Any:
        return answer(exc)

    async def http_problem(request: Any, exc: Any) -> Any:
        return answer(
            http_error(
                exc.status_code,
                exc.detail,
                request.method,
                request.url.path,
                getattr(exc, "headers", None),
            )
        )

    async def validation_problem(request: Any, exc: Any) -> Any:
        return answer(invalid_request(exc.errors()))

    app.add_exception_handler(ProblemError, problem_error)
    app.add_exception_handler(http_exception, http_problem)
    app.add_exception_handler(validation_exception, validation_problem)
