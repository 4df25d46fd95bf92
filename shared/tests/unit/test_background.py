import asyncio

from switchboard_shared.background import BackgroundLoop


class Counter(BackgroundLoop):
    task_name = "test-counter"

    def __init__(self) -> None:
        self.ticks = 0
        self.cancelled = False

    async def _run(self) -> None:
        try:
            while True:
                self.ticks += 1
                await asyncio.sleep(0.01)
        except asyncio.CancelledError:
            self.cancelled = True
            raise


def test_a_loop_runs_as_its_named_task_until_stopped_and_is_awaited_on_stop():
    async def scenario() -> tuple[Counter, set[str], int]:
        loop = Counter()
        loop.start()
        await asyncio.sleep(0.05)
        names = {task.get_name() for task in asyncio.all_tasks()}
        await loop.stop()
        after_stop = loop.ticks
        await asyncio.sleep(0.05)
        assert loop.ticks == after_stop  # nothing runs after stop returned
        return loop, names, after_stop

    loop, names, ticks = asyncio.run(scenario())
    assert "test-counter" in names
    assert ticks >= 2 and loop.cancelled


def test_stopping_a_loop_never_started_does_nothing():
    asyncio.run(Counter().stop())


class Deaf(BackgroundLoop):
    """A loop that loses its first cancellation, as a retry around a library call can:
    it takes the cancel for one more failed try and carries on."""

    task_name = "test-deaf"

    def __init__(self) -> None:
        self.lost_cancels = 0

    async def _run(self) -> None:
        while True:
            try:
                await asyncio.sleep(0.01)
            except asyncio.CancelledError:
                if self.lost_cancels:
                    raise
                self.lost_cancels += 1  # retried as if it were an error


def test_a_loop_that_loses_its_cancellation_is_cancelled_again_until_it_ends(monkeypatch):
    monkeypatch.setattr("switchboard_shared.background.RECANCEL_SECONDS", 0.05, raising=False)

    async def scenario() -> Deaf:
        loop = Deaf()
        loop.start()
        await asyncio.sleep(0.03)
        # One cancel and `await task` would wait for ever: bound it so the test fails, not hangs.
        await asyncio.wait_for(loop.stop(), timeout=5)
        assert loop._task is not None and loop._task.done()
        return loop

    assert asyncio.run(scenario()).lost_cancels == 1


class Broken(BackgroundLoop):
    task_name = "test-broken"

    async def _run(self) -> None:
        raise RuntimeError("the loop's own failure")


def test_stopping_a_loop_that_failed_raises_its_failure():
    async def scenario() -> None:
        loop = Broken()
        loop.start()
        await asyncio.sleep(0.01)
        await loop.stop()

    try:
        asyncio.run(scenario())
    except RuntimeError as exc:
        assert str(exc) == "the loop's own failure"
    else:
        raise AssertionError("stop() swallowed the loop's failure")
