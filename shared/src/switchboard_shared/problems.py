"""RFC 9457 problem documents, as plain data (each service renders them).

Every error answer names what was wrong: `errors` lists each bad field as a
dotted path with a message, and `detail` repeats the first one for humans.
"""

from __future__ import annotations

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
