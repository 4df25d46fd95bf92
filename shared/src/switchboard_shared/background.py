"""A service's background loop: one coroutine run as one named asyncio task.

Every long-running part of a service (tailing a topic, a clock, an outbox
relay, a consumer) is started once and, on shutdown, cancelled and awaited so
it never outlives the process's clients. Subclasses name the task and write
`_run`; the start and stop are the same for all of them.
"""

from __future__ import annotations

import asyncio
import contextlib


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
