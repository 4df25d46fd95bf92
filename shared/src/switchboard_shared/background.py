"""A service's background loop: one coroutine run as one named asyncio task.

Every long-running part of a service (tailing a topic, a clock, an outbox
relay, a consumer) is started once and, on shutdown, cancelled and awaited so
it never outlives the process's clients. Subclasses name the task and write
`_run`; the start and stop are the same for all of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import AsyncIterator
from typing import Any, Protocol

from switchboard_shared.logs import fields

log = logging.getLogger(__name__)


class BackgroundLoop:
    """Runs `_run` as a task named `task_name` between `start` and `stop`."""

    task_name = "background-loop"
    _task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Run the loop in the background (inside a running event loop)."""
        self._task = asyncio.create_task(self._run(), name=self.task_name)

    async def stop(self) -> None:
        """Cancel the loop and wait until it has ended."""
        if self._task is not None:
            await cancel_and_wait(self._task)

    async def _run(self) -> None:
        raise NotImplementedError


# How long a cancelled task has to end before it is cancelled again.
RECANCEL_SECONDS = 1.0


async def cancel_and_wait(task: asyncio.Task[Any]) -> None:
    """Cancel `task` and wait until it has ended, cancelling it again while it runs on.

    One cancel is not always enough: on Python 3.11 `asyncio.wait_for` loses a
    cancellation that lands as its inner call completes (python/cpython#86296, fixed in
    3.12), and a loop that retries on errors can turn a cancel surfacing as one into one
    more try; `await task` would then wait for ever and the service would never shut down
    (seen as a test run hung in an app's shutdown). Cancelling again until the task is done
    ends it however often a cancel is lost. What the task raised, other than its
    cancellation, is raised here as before.
    """
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=RECANCEL_SECONDS)
        if not task.done():
            log.warning(
                "a background task carried on after it was cancelled; cancelling it again",
                extra=fields(task=task.get_name()),
            )
    with contextlib.suppress(asyncio.CancelledError):
        task.result()


class Runs(Protocol):
    """Anything started once and stopped (awaited) at shutdown: a loop, a metrics listener."""

    def start(self) -> None: ...
    def stop(self) -> Any: ...


@contextlib.asynccontextmanager
async def running(*parts: Runs | None) -> AsyncIterator[None]:
    """Start the parts in order (None is a part this process does not run) and, however the
    body ends, stop them in reverse, so nothing outlives what it depends on."""
    started = [part for part in parts if part is not None]
    for part in started:
        part.start()
    try:
        yield
    finally:
        for part in reversed(started):
            stopped = part.stop()
            if inspect.isawaitable(stopped):
                await stopped
