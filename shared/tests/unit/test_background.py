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
