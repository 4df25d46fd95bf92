"""Log set-up shared by the services: one line per event, key=value fields.

An on-call engineer greps by `mention_id=`; every log line about one mention
carries it. No line carries a mention's text or its author: errors about bad
input name the field and the rule it broke (`describe_invalid`), never the value.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Any

from pydantic import ValidationError

from switchboard_shared.events import DeadLetter

# Enough to say what is wrong with a record; the rest is in the dead-letter payload.
MAX_DESCRIBED_ERRORS = 5


class _KeyValueFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        fields = getattr(record, "fields", None) or {}
        extra = "".join(f" {key}={value}" for key, value in fields.items())
        line = (
            f"{self.formatTime(record, '%Y-%m-%dT%H:%M:%S')}.{int(record.msecs):03d}Z"
            f" level={record.levelname} service={self.service} logger={record.name}"
            f' msg="{record.getMessage()}"{extra}'
        )
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def configure_logging(service: str, level: str) -> None:
    """Send every log record to stderr as one key=value line."""
    logging.Formatter.converter = time.gmtime
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_KeyValueFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # aiokafka is chatty about every reconnect attempt at INFO.
    logging.getLogger("aiokafka").setLevel(max(logging.WARNING, root.level))


# uvicorn's own logging off: its records go through the root logger set up by
# configure_logging, and no access line per request.
UVICORN_LOGGING: dict[str, Any] = {"log_config": None, "access_log": False}


def fields(**values: object) -> dict[str, dict[str, object]]:
    """`extra=` for a log call: key=value fields appended to the line."""
    return {"fields": values}


def log_dead_letter(log: logging.Logger, letter: DeadLetter) -> None:
    """The warning a stage logs for a record it dead-letters: where it was and why, never its payload."""
    where = {"topic": letter.source_topic, "partition": letter.partition, "offset": letter.offset}
    extra = fields(mention_id=letter.mention_id, reason=letter.reason, error=letter.error, **where)
    log.warning("record dead-lettered", extra=extra)


def describe_invalid(exc: ValidationError) -> str:
    """Which fields failed validation and why, e.g. `text: String should have at least 1 character`.

    Never `str(exc)`: pydantic puts each field's `input_value` there, which for a
    mention is its text, its author or the phone number in it.
    """
    errors = exc.errors(include_url=False, include_input=False, include_context=False)
    parts = [
        f"{'.'.join(str(part) for part in error['loc']) or '(root)'}: {error['msg']}"
        for error in errors[:MAX_DESCRIBED_ERRORS]
    ]
    if len(errors) > MAX_DESCRIBED_ERRORS:
        parts.append(f"and {len(errors) - MAX_DESCRIBED_ERRORS} more")
    return "; ".join(parts) or "invalid"
