"""What the notifier's and the responder's SIGKILL drills share: publishing the load,
the service run as a process that is killed mid-send and started again, and the
record of each run in .run/faults/results.jsonl beside the other drills."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from conftest import REPO, ServiceProcess, poll
from switchboard_shared.events import MentionEscalated, ReplyRequested
from switchboard_shared.kafka import encode

RUNS = int(os.environ.get("SWITCHBOARD_FAULT_RUNS", "1"))
RESULTS = REPO / ".run" / "faults" / "results.jsonl"
# How long a kill waits for the first tries to be answered.
PROGRESS_TIMEOUT_SECONDS = 120


def record(result: dict[str, Any]) -> None:
    """Append one run's result to the drills' table."""
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    with RESULTS.open("a") as out:
        out.write(json.dumps(result) + "\n")


async def publish(
    bootstrap: str, topic: str, events: Sequence[MentionEscalated | ReplyRequested]
) -> None:
    """Publish every event onto `topic`, keyed by its mention, and wait for all acks."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await producer.start()
    try:
        futures = [await producer.send(topic, encode(e), key=e.mention_id.encode()) for e in events]
        for future in futures:
            await future
    finally:
        await producer.stop()


class Restarted:
    """One service run as a process, started again after each kill; each start logs
    to a file of its own (`notifier-1.log`, `notifier-2.log`, ...)."""

    def __init__(self, module: str, env: dict[str, str], port: int, log_dir: Path) -> None:
        self.module = module
        self.env = env
        self.ready_url = f"http://127.0.0.1:{port}/readyz"
        self.log_dir = log_dir
        self.processes: list[ServiceProcess] = []

    def start(self) -> ServiceProcess:
        """Start the service once more and wait until it is ready."""
        name = self.module.removeprefix("switchboard_")
        log_path = self.log_dir / f"{name}-{len(self.processes) + 1}.log"
        process = ServiceProcess(self.module, self.env, log_path)
        self.processes.append(process)
        process.wait_ready(self.ready_url)
        return process

    def kill_while_sending(
        self,
        *,
        kills: int,
        tries: int,
        received: Callable[[], int],
        in_flight: Callable[[int], int],
    ) -> list[int]:
        """SIGKILL the running service `kills` times and start it again after each; the
        sends in flight at each kill.

        Kill k (from 0) waits until `received()`, the tries the stand-in got, reaches
        (k + 1) / (kills + 2) of `tries`: tries are being answered, with more in flight
        behind them. `in_flight` is told the last count `received()` gave and is asked
        before the kill.
        """
        in_flight_at_kills = []
        for kill in range(kills):
            threshold = (kill + 1) * tries // (kills + 2)
            seen = 0

            def progressed(threshold: int = threshold) -> bool:
                nonlocal seen
                seen = received()
                return seen >= threshold

            assert poll(progressed, timeout=PROGRESS_TIMEOUT_SECONDS), (
                f"no progress before kill {kill + 1}"
            )
            in_flight_at_kills.append(in_flight(seen))
            running = self.processes[-1]
            os.killpg(running.proc.pid, signal.SIGKILL)
            running.proc.wait(timeout=10)
            self.start()
        return in_flight_at_kills

    def stop(self) -> None:
        """Stop every start (the killed ones are gone already)."""
        for process in self.processes:
            process.stop()


def drill_cases(name: str, *, full: int, quick: int) -> list[Any]:
    """The runs of the drill `name` as (fault, load, kills): SWITCHBOARD_FAULT_RUNS full
    runs of `full` sends killed twice, and the quick run of `quick` sends killed once
    (marked `quick`, so `make test` runs it too)."""
    full_runs = [pytest.param(name, full, 2, id=f"full-{run + 1}") for run in range(RUNS)]
    quick_run = pytest.param(f"{name}_quick", quick, 1, id="quick", marks=pytest.mark.quick)
    return [*full_runs, quick_run]
