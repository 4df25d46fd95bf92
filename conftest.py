"""Fixtures every test directory shares: the real Kafka and PostgreSQL that
`make test` starts, a fresh topic prefix and database per test, and helpers to
read topics and run services as processes.

Integration and e2e tests fail (never skip) when the infrastructure is
missing: a green run must mean they ran.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

REPO = Path(__file__).resolve().parent


def _required_env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        pytest.fail(
            f"{name} is not set: run this test through `make test` (it starts Kafka and PostgreSQL)"
        )
    return value


@pytest.fixture(scope="session")
def kafka_bootstrap() -> str:
    """host:port of the real broker `make test` started."""
    return _required_env("SWITCHBOARD_TEST_KAFKA_BOOTSTRAP")


@pytest.fixture(scope="session")
def postgres_admin_url() -> str:
    """SQLAlchemy URL of the throwaway PostgreSQL cluster's maintenance database."""
    return _required_env("SWITCHBOARD_TEST_DATABASE_URL")


@pytest.fixture
def topic_prefix() -> str:
    """A prefix no other test uses: every test gets its own topics."""
    return f"test-{uuid.uuid4().hex[:10]}."


@contextlib.contextmanager
def fresh_database(postgres_admin_url: str) -> Iterator[str]:
    """The URL of a new, empty PostgreSQL database, dropped when the block ends."""
    import psycopg
    from sqlalchemy.engine import make_url

    admin = make_url(postgres_admin_url)
    name = f"t_{uuid.uuid4().hex[:12]}"
    conninfo = f"host={admin.host} port={admin.port} user={admin.username} dbname={admin.database}"
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield admin.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def database_url(postgres_admin_url: str) -> Iterator[str]:
    """A fresh PostgreSQL database for one test, dropped afterwards."""
    with fresh_database(postgres_admin_url) as url:
        yield url


def free_port() -> int:
    """A TCP port on loopback nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def free_port_pair() -> int:
    """A port p with p and p + 1 both free (a broker and its controller)."""
    for _ in range(50):
        port = free_port()
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
        return port
    raise RuntimeError("no two adjacent free ports on loopback")


class OwnBroker:
    """A Kafka broker a test owns, so that it may stop, kill or freeze it."""

    def __init__(self, data_dir: Path) -> None:
        self.port = free_port_pair()
        # The controller port is set too: one inherited from the shell would be the shared broker's.
        self.env = {
            **os.environ,
            "KAFKA_PORT": str(self.port),
            "KAFKA_CONTROLLER_PORT": str(self.port + 1),
            "KAFKA_DATA_DIR": str(data_dir),
        }
        self.pid_file = data_dir / "kafka.pid"

    @property
    def bootstrap(self) -> str:
        """host:port of this broker."""
        return f"127.0.0.1:{self.port}"

    def run(self, command: str) -> None:
        """`deploy/local/kafka.sh COMMAND` for this broker (start, stop, kill, clean)."""
        script = REPO / "deploy" / "local" / "kafka.sh"
        subprocess.run(
            ["bash", str(script), command],
            env=self.env,
            check=True,
            capture_output=True,
            timeout=180,
        )

    def signal(self, sig: int) -> None:
        """Send a signal to the broker's JVM."""
        os.kill(int(self.pid_file.read_text().strip()), sig)


def poll(predicate: Callable[[], Any], timeout: float = 30.0, interval: float = 0.2) -> Any:
    """Call `predicate` until it returns something true or `timeout` passes; its last value.

    The one wait of the tests: poll with a deadline, never sleep a fixed time and hope."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return predicate()


async def wait_for(
    predicate: Callable[[], Any], timeout: float = 30.0, interval: float = 0.2
) -> Any:
    """`poll` for async tests: `predicate` (blocking, e.g. a database read) runs in a thread."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = await asyncio.to_thread(predicate)
        if value:
            return value
        await asyncio.sleep(interval)
    return await asyncio.to_thread(predicate)


def wait_app_ready(client: Any, timeout: float = 30) -> None:
    """Poll a TestClient's /readyz until 200; fail with its last answer otherwise."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if client.get("/readyz").status_code == 200:
            return
        time.sleep(0.2)
    pytest.fail(f"not ready after {timeout}s: {client.get('/readyz').json()}")


@pytest.fixture
def port_factory() -> Callable[[], int]:
    """Hands out free loopback ports."""
    return free_port


class TopicReader:
    """Reads a topic from the beginning until enough records arrived or a deadline passed."""

    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap

    async def read(self, topic: str, *, count: int, timeout: float = 30.0) -> list[Any]:
        """At least `count` records of `topic` (all partitions), or as many as came before the deadline."""
        consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=self.bootstrap,
            group_id=None,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
        )
        await consumer.start()
        records: list[Any] = []
        deadline = time.monotonic() + timeout
        try:
            while len(records) < count and time.monotonic() < deadline:
                batches = await consumer.getmany(timeout_ms=300)
                for batch in batches.values():
                    records.extend(batch)
        finally:
            await consumer.stop()
        return records

    async def read_quiet(self, topic: str, *, settle: float = 2.0) -> list[Any]:
        """Everything on `topic` once nothing new has arrived for `settle` seconds."""
        return await self.read(topic, count=10**9, timeout=settle)


@pytest.fixture
def topic_reader(kafka_bootstrap: str) -> TopicReader:
    """Reads topics of the real broker."""
    return TopicReader(kafka_bootstrap)


@pytest.fixture
async def raw_producer(kafka_bootstrap: str) -> AsyncIterator[AIOKafkaProducer]:
    """A plain producer for writing test records (including poison) to a topic."""
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await producer.start()
    yield producer
    await producer.stop()


def run_to_refusal(
    module: str, env: dict[str, str], *, timeout: float, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """`python -m module` started as a service is, for a start that must be refused:
    returns once the process has stopped, with its exit code and stderr."""
    return subprocess.run(
        [sys.executable, "-m", module],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


class ServiceProcess:
    """A Switchboard service run as `python -m <module>`, logging to a file."""

    def __init__(self, module: str, env: dict[str, str], log_path: Path) -> None:
        self.module = module
        self.log_path = log_path
        self._log = log_path.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", module],
            env={**os.environ, **env},
            stdout=self._log,
            stderr=subprocess.STDOUT,
            cwd=REPO,
            start_new_session=True,
        )

    def log_tail(self, lines: int = 40) -> str:
        """The last lines this process logged."""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def wait_ready(self, url: str, timeout: float = 90.0) -> None:
        """Poll `url` until it answers 200; fail with the log if the process dies or time runs out."""
        import httpx

        deadline = time.monotonic() + timeout
        last = "no answer"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"{self.module} exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                response = httpx.get(url, timeout=2)
                if response.status_code == 200:
                    return
                last = f"{response.status_code} {response.text[:200]}"
            except httpx.HTTPError as exc:
                last = repr(exc)
            time.sleep(0.3)
        pytest.fail(
            f"{self.module} not ready at {url} after {timeout}s ({last}):\n{self.log_tail()}"
        )

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it lingers."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        self._log.close()


@pytest.fixture
def service_runner(tmp_path: Path) -> Iterator[Callable[[str, dict[str, str]], ServiceProcess]]:
    """Starts services as processes and stops them after the test."""
    started: list[ServiceProcess] = []

    def start(module: str, env: dict[str, str]) -> ServiceProcess:
        process = ServiceProcess(module, env, tmp_path / f"{module}.log")
        started.append(process)
        return process

    yield start
    for process in reversed(started):
        process.stop()


def run_async(coro: Any) -> Any:
    """Run a coroutine to completion from synchronous test code."""
    return asyncio.run(coro)


# --- Prometheus samples, for the metrics tests of every service ---------------------------

Series = tuple[str, frozenset[tuple[str, str]]]


def exposed(text: str | None = None) -> dict[Series, float]:
    """Every sample of a Prometheus text exposition (default: the global registry's)."""
    from prometheus_client import REGISTRY, generate_latest
    from prometheus_client.parser import text_string_to_metric_families

    if text is None:
        text = generate_latest(REGISTRY).decode()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def series(name: str, **labels: str) -> Series:
    """The key of one sample in `exposed`."""
    return (name, frozenset(labels.items()))


def assert_metrics_need_the_token(
    client: Any, token: str, authorization: str | None, *, service: str, metric: str
) -> None:
    """A scrape of `client`'s /metrics with `authorization` (not the token) is refused
    with a problem document that shows no metric; one with the token gets `metric`."""
    headers = {"authorization": authorization} if authorization else {}
    answer = client.get("/metrics", headers=headers)
    assert answer.status_code == 401
    assert answer.headers["content-type"] == "application/problem+json"
    assert f"switchboard_{service}" not in answer.text
    good = client.get("/metrics", headers={"authorization": f"Bearer {token}"})
    assert good.status_code == 200 and metric in good.text


def classifier_env(
    kafka_bootstrap: str, topic_prefix: str, port: int, **extra: str
) -> dict[str, str]:
    """The settings of a classifier service under test: its broker, topics, group and port."""
    return {
        "SWITCHBOARD_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "SWITCHBOARD_TOPIC_PREFIX": topic_prefix,
        "SWITCHBOARD_CLASSIFIER_GROUP_ID": f"{topic_prefix}classifier",
        "SWITCHBOARD_CLASSIFIER_PORT": str(port),
        **extra,
    }


def start_pipeline(
    service_runner: Callable[[str, dict[str, str]], ServiceProcess],
    port_factory: Callable[[], int],
    *,
    kafka_bootstrap: str,
    topic_prefix: str,
    database_url: str,
    keys_dir: Path,
    api_key: str,
    admin_token: str,
    kafka_env: dict[str, str] | None = None,
    ingest_env: dict[str, str] | None = None,
) -> tuple[dict[str, str], dict[str, ServiceProcess]]:
    """Ingest (taking `api_key` for every source), classifier and router as processes.

    Returns their base URLs and processes, once every one answers /readyz; the
    router's admin signs in with `admin_token`. `kafka_env` adds settings all
    three get (the Kafka security settings of a secured broker); `ingest_env`
    adds ingest settings (pull connectors, say).
    """
    keys = keys_dir / "keys.json"
    digest = hashlib.sha256(api_key.encode()).hexdigest()
    keys.write_text(json.dumps([{"name": "e2e", "sha256": digest, "sources": ["*"]}]))
    ports = {name: port_factory() for name in ("ingest", "classifier", "router")}
    common = {
        "SWITCHBOARD_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "SWITCHBOARD_TOPIC_PREFIX": topic_prefix,
        "SWITCHBOARD_LOG_LEVEL": "INFO",
        **(kafka_env or {}),
    }
    processes = {
        "ingest": service_runner(
            "switchboard_ingest",
            {
                **common,
                "SWITCHBOARD_INGEST_PORT": str(ports["ingest"]),
                "SWITCHBOARD_INGEST_API_KEYS_FILE": str(keys),
                **(ingest_env or {}),
            },
        ),
        "classifier": service_runner(
            "switchboard_classifier",
            classifier_env(kafka_bootstrap, topic_prefix, ports["classifier"], **common),
        ),
        "router": service_runner(
            "switchboard_router",
            {
                **common,
                "SWITCHBOARD_ROUTER_PORT": str(ports["router"]),
                "SWITCHBOARD_ROUTER_GROUP_ID": f"{topic_prefix}router",
                "SWITCHBOARD_DATABASE_URL": database_url,
                "SWITCHBOARD_ROUTER_BOOTSTRAP_ADMIN_TOKEN": admin_token,
            },
        ),
    }
    urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    for name, process in processes.items():
        process.wait_ready(f"{urls[name]}/readyz")
    return urls, processes


def find_item(
    router_url: str, queue_id: str, mention_id: str, *, token: str, timeout: float = 60.0
) -> Any:
    """The item of `mention_id` once it shows in `queue_id` (polled until `timeout`), else None."""

    auth = {"authorization": f"Bearer {token}"}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        response = httpx.get(f"{router_url}/v1/queues/{queue_id}/items", headers=auth)
        if response.status_code == 200:
            for item in response.json()["items"]:
                if item["mention_id"] == mention_id:
                    return item
        time.sleep(0.3)
    return None


def classified_event(
    source_id: str,
    urgency: Any,
    topics: tuple[str, ...],
    *,
    text: str,
    district: str | None = None,
    ruleset: str = "r1",
) -> Any:
    """A `mentions.classified.v1` event as the classifier would publish it, for the router."""
    from switchboard_shared.events import Classification, MentionClassified, MentionIn, utc_now

    mention = MentionIn(
        source="x",
        source_id=source_id,
        text=text,
        created_at="2026-11-29T22:00:00Z",
        district=district,
    )
    return MentionClassified(
        mention_id=mention.mention_id,
        received_at=utc_now(),
        mention=mention,
        classification=Classification(
            urgency=urgency, score=0.9, topics=topics, ruleset_version=ruleset
        ),
    )


class Standin:
    """`python -m switchboard_standins --port N` as a process of its own."""

    def __init__(self, log_path) -> None:
        self.url = f"http://127.0.0.1:{free_port()}"
        self._log = log_path.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "switchboard_standins", "--port", self.url.rsplit(":", 1)[1]],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            cwd=REPO,
            start_new_session=True,
        )
        if not poll(self._answers, timeout=30):
            pytest.fail(f"the stand-in did not start: {log_path.read_text()}")

    def _answers(self) -> bool:
        try:
            return httpx.get(f"{self.url}/_standin/posts", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def get(self, path: str) -> dict:
        return httpx.get(f"{self.url}{path}", timeout=10).json()

    def fault(self, **fault) -> None:
        httpx.post(f"{self.url}/_standin/faults", json=fault, timeout=5).raise_for_status()

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=20)
        self._log.close()
