"""Fault injection under steady load: nothing accepted is lost or duplicated.

Each scenario runs the three services as processes on a broker of its own,
sends a steady load of unique mentions through ingest, injects one fault,
and then checks every mention that got a 202 ends as exactly one queue item,
that every refusal was explicit (a 4xx or 503, never a silent drop), and that
the consumer groups catch up. `make test-faults` runs every scenario several
times; `make test` runs the quick subset (marked `quick`).
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
import uuid
from collections import Counter

import httpx
import pytest
import sqlalchemy as sa

from conftest import REPO, OwnBroker, run_async
from tests.bench.stack import INGEST_AUTH, Stack
from tests.faults.results import RUNS, record

pytestmark = [pytest.mark.faults, pytest.mark.kafka, pytest.mark.postgres, pytest.mark.e2e]

PG_SH = str(REPO / "deploy" / "local" / "postgres.sh")
RECOVERY_BOUND_SECONDS = 120


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    broker = OwnBroker(tmp_path_factory.mktemp("kafka"))
    broker.run("start")
    yield broker
    broker.run("clean")


class Load:
    """Steady unique mentions through batched intake; remembers what got 202 and every refusal."""

    def __init__(self, url: str, rate: float = 200.0, batch: int = 20) -> None:
        self.url = url
        self.interval = batch / rate
        self.batch = batch
        self.accepted: set[str] = set()
        self.refusals: Counter[str] = Counter()
        self.unexplained: list[str] = []
        self.sent = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.run_id = uuid.uuid4().hex[:8]

    def start(self) -> Load:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=60)

    def _run(self) -> None:
        n = 0
        with httpx.Client(timeout=15, headers=INGEST_AUTH) as client:
            while not self._stop.is_set():
                started = time.monotonic()
                mentions = [
                    {
                        "source": "sms",
                        "source_id": f"fault-{self.run_id}-{n}-{i}",
                        "text": f"Car crash on Route {i} right now",
                        "created_at": "2026-11-29T22:00:00Z",
                    }
                    for i in range(self.batch)
                ]
                n += 1
                self.sent += len(mentions)
                try:
                    response = client.post(
                        f"{self.url}/v1/mentions/batch", json={"mentions": mentions}
                    )
                except httpx.HTTPError as exc:
                    # No answer at all: nothing was promised, but count it apart.
                    self.refusals[f"no_answer:{type(exc).__name__}"] += len(mentions)
                else:
                    if response.status_code in (202, 207, 503) and "results" in response.json():
                        for result in response.json()["results"]:
                            if result["status"] == "accepted":
                                self.accepted.add(result["mention_id"])
                            else:
                                self.refusals[result["status"]] += 1
                    elif 400 <= response.status_code < 500 or response.status_code == 503:
                        self.refusals[str(response.status_code)] += len(mentions)
                    else:
                        self.unexplained.append(f"{response.status_code} {response.text[:200]}")
                self._stop.wait(max(0.0, self.interval - (time.monotonic() - started)))


def queued_counts(database_url: str, mention_ids: set[str]) -> Counter[str]:
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                sa.text("SELECT mention_id, count(*) FROM items GROUP BY mention_id")
            ).all()
    finally:
        engine.dispose()
    return Counter({mention_id: count for mention_id, count in rows if mention_id in mention_ids})


async def group_lag(bootstrap: str, group: str, topic: str, partitions: int) -> int:
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in range(partitions)]
        ends = await consumer.end_offsets(tps)
        lag = 0
        for tp in tps:
            committed = await consumer.committed(tp)
            lag += ends[tp] - (committed or 0)
        return lag
    finally:
        await consumer.stop()


async def _read_keys(bootstrap: str, topic: str) -> list[str]:
    from conftest import TopicReader

    records = await TopicReader(bootstrap).read_quiet(topic, settle=2)
    return [r.key.decode() for r in records if r.key]


def wait_until(predicate, timeout: float, step: float = 0.5) -> float | None:
    """Seconds until predicate() held, or None if it never did within `timeout`."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if predicate():
            return time.monotonic() - started
        time.sleep(step)
    return None


def run_scenario(name, inject, broker, database_url, tmp_path, poison=None):
    from switchboard_shared.topics import CLASSIFIED, RAW

    prefix = f"fault-{uuid.uuid4().hex[:8]}."
    stack = Stack(
        broker.bootstrap,
        database_url,
        prefix,
        tmp_path,
        extra_env={"SWITCHBOARD_KAFKA_ACK_TIMEOUT_SECONDS": "2", "SWITCHBOARD_LOG_LEVEL": "INFO"},
    )
    stack.start("router", "classifier", "ingest")
    load = Load(stack.services["ingest"].url).start()
    try:
        time.sleep(3)  # let load reach steady state before the fault
        inject(stack, broker)
        if poison is not None:
            poison(stack, broker, prefix)
        time.sleep(3)  # load continues after the fault
    finally:
        load.stop()
    started = time.monotonic()
    recovered = wait_until(
        lambda: len(queued_counts(database_url, load.accepted)) >= len(load.accepted),
        RECOVERY_BOUND_SECONDS,
    )
    counts = queued_counts(database_url, load.accepted)
    lags = {
        "classifier": run_async(
            group_lag(broker.bootstrap, f"{prefix}classifier", RAW.name(prefix), RAW.partitions)
        ),
        "router": run_async(
            group_lag(
                broker.bootstrap, f"{prefix}router", CLASSIFIED.name(prefix), CLASSIFIED.partitions
            )
        ),
    }
    lag_zero = wait_until(
        lambda: (
            run_async(
                group_lag(
                    broker.bootstrap,
                    f"{prefix}router",
                    CLASSIFIED.name(prefix),
                    CLASSIFIED.partitions,
                )
            )
            == 0
            and run_async(
                group_lag(broker.bootstrap, f"{prefix}classifier", RAW.name(prefix), RAW.partitions)
            )
            == 0
        ),
        60,
    )
    stack.stop_all()
    # Items are unique by construction (one row per mention id), so also count
    # copies on the raw topic: ingest must not have written any mention twice.
    reader_records = run_async(_read_keys(broker.bootstrap, RAW.name(prefix)))
    raw_copies = Counter(reader_records)
    result = {
        "fault": name,
        "prefix": prefix,
        "sent": load.sent,
        "accepted": len(load.accepted),
        "queued": len(counts),
        "lost": len(load.accepted - set(counts)),
        "duplicated": sum(1 for c in counts.values() if c > 1),
        "raw_duplicates": sum(1 for m in load.accepted if raw_copies[m] > 1),
        "refused": dict(load.refusals),
        "unexplained": load.unexplained[:5],
        "recovery_seconds": round(
            recovered if recovered is not None else time.monotonic() - started, 1
        ),
        "lag_after_recovery": lags,
        "lag_zero_after_seconds": lag_zero,
    }
    record(result)
    assert load.accepted, f"no mention was accepted at all: {result}"
    assert result["lost"] == 0, result
    assert result["duplicated"] == 0, result
    assert result["raw_duplicates"] == 0, result
    assert result["unexplained"] == [], result
    assert lag_zero is not None, result
    return result


# --- the faults ----------------------------------------------------------------------------


def kill_broker(stack, broker):
    for _ in range(2):
        broker.signal(signal.SIGKILL)
        time.sleep(2)
        broker.run("start")
        time.sleep(2)


def freeze_broker(stack, broker):
    broker.signal(signal.SIGSTOP)
    time.sleep(15)  # longer than the consumers' 10 s session timeout
    broker.signal(signal.SIGCONT)


def kill_and_restart(name):
    def inject(stack, broker):
        for _ in range(2):
            stack.services[name].kill()
            time.sleep(1)
            stack.services[name].start()
            stack.services[name].wait_ready()
            time.sleep(1)

    return inject


def add_and_remove_replicas(stack, broker):
    extra = Stack(stack.bootstrap, stack.database_url, stack.prefix, stack.workdir / "extra")
    (stack.workdir / "extra").mkdir(exist_ok=True)
    extra.start("classifier", "router")
    time.sleep(3)
    extra.stop_all()


def restart_postgres(stack, broker):
    env = dict(os.environ)
    subprocess.run(["bash", PG_SH, "stop"], env=env, check=True, capture_output=True, timeout=60)
    time.sleep(3)
    subprocess.run(["bash", PG_SH, "start"], env=env, check=True, capture_output=True, timeout=60)


def send_poison(stack, broker, prefix):
    from aiokafka import AIOKafkaProducer

    from switchboard_shared.topics import CLASSIFIED, RAW

    async def go():
        producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, acks="all")
        await producer.start()
        try:
            await producer.send_and_wait(RAW.name(prefix), b"\x00\xff not json", key=b"poison-1")
            await producer.send_and_wait(
                RAW.name(prefix),
                b'{"schema_version": 1, "mention_id": "poison-2"}',
                key=b"poison-2",
            )
            await producer.send_and_wait(CLASSIFIED.name(prefix), b"[1, 2, 3]", key=b"poison-3")
        finally:
            await producer.stop()

    run_async(go())


def nothing(stack, broker):
    pass


SCENARIOS = {
    "broker_sigkill_restart": (kill_broker, None, True),
    "broker_sigstop_15s": (freeze_broker, None, False),
    "classifier_sigkill": (kill_and_restart("classifier"), None, False),
    "router_sigkill": (kill_and_restart("router"), None, True),
    "extra_replicas_join_and_leave": (add_and_remove_replicas, None, False),
    "postgres_restart": (restart_postgres, None, False),
    "poison_input": (nothing, send_poison, True),
}


def _params():
    for name, (_, _, quick) in SCENARIOS.items():
        marks = [pytest.mark.quick] if quick else []
        for run in range(RUNS):
            yield pytest.param(name, id=f"{name}-{run + 1}", marks=marks)


@pytest.mark.parametrize("scenario", list(_params()))
def test_under_load_a_fault_loses_and_duplicates_nothing(
    scenario, broker, database_url, tmp_path, topic_reader
):
    inject, poison, _ = SCENARIOS[scenario]
    result = run_scenario(scenario, inject, broker, database_url, tmp_path, poison)
    if poison is not None:
        from switchboard_shared.events import DeadLetter
        from switchboard_shared.topics import DEADLETTER

        reader = type(topic_reader)(broker.bootstrap)
        records = run_async(reader.read_quiet(DEADLETTER.name(result["prefix"]), settle=3))
        letters = [DeadLetter.model_validate_json(r.value) for r in records]
        reasons = sorted((letter.stage, letter.reason) for letter in letters)
        assert reasons == [
            ("classifier", "not_json"),
            ("classifier", "schema"),
            ("router", "schema"),
        ], reasons
        assert all(letter.error and letter.raw_payload is not None for letter in letters)
