"""What the notifier's and the responder's SIGKILL drills share: a run's own topics and
stand-in, the service's environment, publishing the load, the service run as a process
that is killed mid-send and started again, the wait for every send to end, and the
record of each run in .run/faults/results.jsonl beside the other drills."""

from __future__ import annotations

import os
import signal
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from conftest import ServiceProcess, Standin, free_port, poll, run_async
from switchboard_shared.events import MentionEscalated, ReplyRequested
from switchboard_shared.kafka import encode
from tests.faults.results import RUNS, record

# How long a kill waits for the first tries to be answered.
PROGRESS_TIMEOUT_SECONDS = 120


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


def drill_cases(name: str, *, full: int, quick: int) -> pytest.MarkDecorator:
    """The runs of the drill `name`, as the test's parameters (name, load, kills):
    SWITCHBOARD_FAULT_RUNS full runs of a load of `full` killed twice, and the quick run
    of `quick` killed once (marked `quick`, so `make test` runs it too)."""
    full_runs = [pytest.param(name, full, 2, id=f"full-{run + 1}") for run in range(RUNS)]
    quick_run = pytest.param(f"{name}_quick", quick, 1, id="quick", marks=pytest.mark.quick)
    return pytest.mark.parametrize(("name", "load", "kills"), [*full_runs, quick_run])


@dataclass(frozen=True)
class Recovered:
    """How one run's kills and recovery went."""

    in_flight_at_kills: list[int]
    all_final: bool
    seconds: float

    def fields(self) -> dict[str, Any]:
        """This run's part of the recorded result, under the names every drill records."""
        return {
            "in_flight_at_kills": self.in_flight_at_kills,
            "recovery_seconds": self.seconds,
            "all_final_within_bound": self.all_final,
        }


class SendingDrill:
    """One run of a SIGKILL drill: topics of its own (`prefix`), the platform and channel
    stand-in as a process of its own, and the service under test; the block's end stops
    the service (every start of it) and the stand-in."""

    def __init__(self, name: str, *, kills: int, tmp_path: Path) -> None:
        self.name = name
        self.kills = kills
        self.tmp_path = tmp_path
        self.prefix = f"fault-{uuid.uuid4().hex[:8]}."
        self.standin = Standin(tmp_path / "standin.log")
        self._services: list[Restarted] = []

    def __enter__(self) -> SendingDrill:
        return self

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _value: BaseException | None,
        _traceback: TracebackType | None,
    ) -> None:
        for service in self._services:
            service.stop()
        self.standin.stop()

    def service(
        self, module: str, *, kafka_bootstrap: str, database_url: str, env: dict[str, str]
    ) -> Restarted:
        """`module` (not started yet) on this run's broker, topics, group and database, with
        the drills' short Kafka ack timeout, INFO logs and its own `env` on top."""
        service = module.removeprefix("switchboard_")
        port = free_port()
        full_env = {
            "SWITCHBOARD_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
            "SWITCHBOARD_TOPIC_PREFIX": self.prefix,
            f"SWITCHBOARD_{service.upper()}_GROUP_ID": f"{self.prefix}{service}",
            f"SWITCHBOARD_{service.upper()}_PORT": str(port),
            "SWITCHBOARD_DATABASE_URL": database_url,
            "SWITCHBOARD_KAFKA_ACK_TIMEOUT_SECONDS": "2",
            "SWITCHBOARD_LOG_LEVEL": "INFO",
            **env,
        }
        restarted = Restarted(module, full_env, port, self.tmp_path)
        self._services.append(restarted)
        return restarted

    def run(
        self,
        service: Restarted,
        *,
        kafka_bootstrap: str,
        topic: str,
        load: Sequence[MentionEscalated | ReplyRequested],
        tries: int,
        received: Callable[[], int],
        in_flight: Callable[[int], int],
        all_final: Callable[[], bool],
        bound_seconds: float,
        interval: float,
    ) -> Recovered:
        """Start `service`, publish `load` onto `topic`, kill it mid-send `kills` times
        (see `Restarted.kill_while_sending`), then wait up to `bound_seconds` until
        `all_final()`, asked every `interval` seconds."""
        service.start()
        run_async(publish(kafka_bootstrap, topic, load))
        in_flight_at_kills = service.kill_while_sending(
            kills=self.kills, tries=tries, received=received, in_flight=in_flight
        )
        started = time.monotonic()
        done = poll(all_final, timeout=bound_seconds, interval=interval)
        return Recovered(in_flight_at_kills, bool(done), round(time.monotonic() - started, 1))

    def record(self, recovered: Recovered, **result: Any) -> dict[str, Any]:
        """Record this run (its name, prefix and kills, how it recovered, and the drill's
        own `result`) in the drills' table; the whole record."""
        whole = {
            "fault": self.name,
            "prefix": self.prefix,
            "kills": self.kills,
            **result,
            **recovered.fields(),
        }
        record(whole)
        return whole
