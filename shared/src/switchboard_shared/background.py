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
from collections.abc import AsyncIterator
from typing import Any, Protocol


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
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        raise NotImplementedError


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
