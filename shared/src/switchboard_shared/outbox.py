"""What the services that send to outside platforms (the notifier, the responder) share
about their record of sends: a write to it is retried until the database takes it, so
nothing is sent unrecorded."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from typing import TypeVar

from sqlalchemy.exc import SQLAlchemyError

from switchboard_shared.kafka import retry_delay
from switchboard_shared.logs import fields

T = TypeVar("T")


async def until_stored(
    write: Callable[[], T],
    *,
    logger: logging.Logger,
    failed: str,
    on_retry: Callable[[], object],
    log_fields: Mapping[str, object],
) -> T:
    """What `write()` returns, run in a worker thread and retried until it is stored.

    After a database error: `on_retry()`, an error `failed` on `logger` with
    `log_fields`, a wait of `retry_delay`, and `write()` again.
    """
    attempt = 0
    while True:
        try:
            return await asyncio.to_thread(write)
        except SQLAlchemyError as exc:
            on_retry()
            delay = retry_delay(attempt)
            logger.error(
                failed, extra=fields(**log_fields, error=type(exc).__name__, retry_in=delay)
            )
            attempt += 1
            await asyncio.sleep(delay)
