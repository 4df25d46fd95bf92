"""Run Switchboard's services as processes for benchmarks and fault drills.

A `Stack` starts any of ingest, classifier and router against a given broker
and database, each in its own process group with its own log, waits for
`/readyz`, and can kill (SIGKILL), stop (SIGTERM) or restart them.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
MODULES = {
    "ingest": "switchboard_ingest",
    "classifier": "switchboard_classifier",
    "router": "switchboard_router",
}
# The key every benchmark and drill client posts with: ingest never runs open.
INGEST_API_KEY = "bench-and-drills-key"
INGEST_AUTH = {"authorization": f"Bearer {INGEST_API_KEY}"}


def free_port() -> int:
    """A loopback port nobody listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def http_ok(url: str, timeout: float = 2.0) -> bool:
    """True when `url` answers 200."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def peak_rss_mb(pid: int) -> float:
    """The process's peak resident set (VmHWM) in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


@dataclass
class Service:
    """One running service process."""

    name: str
    port: int
    env: dict[str, str]
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None
    restarts: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", MODULES[self.name]],
            env={**os.environ, **self.env},
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=REPO,
            start_new_session=True,
        )

    def wait_ready(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with {self.proc.returncode}; see {self.log_path}"
                )
            if http_ok(f"{self.url}/readyz"):
                return
            time.sleep(0.25)
        raise TimeoutError(f"{self.name} not ready after {timeout}s; see {self.log_path}")

    def signal(self, sig: int) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)

    def kill(self) -> None:
        """SIGKILL, no goodbyes."""
        self.signal(signal.SIGKILL)
        if self.proc is not None:
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it lingers."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.kill()

    def peak_rss_mb(self) -> float:
        assert self.proc is not None
        return peak_rss_mb(self.proc.pid)


@dataclass
class Stack:
    """The services of one benchmark or drill, sharing a broker, database and topic prefix."""

    bootstrap: str
    database_url: str
    prefix: str
    workdir: Path
    extra_env: dict[str, str] = field(default_factory=dict)
    services: dict[str, Service] = field(default_factory=dict)

    def env(self, name: str, port: int) -> dict[str, str]:
        env = {
            "SWITCHBOARD_KAFKA_BOOTSTRAP_SERVERS": self.bootstrap,
            "SWITCHBOARD_TOPIC_PREFIX": self.prefix,
            "SWITCHBOARD_LOG_LEVEL": "WARNING",
            f"SWITCHBOARD_{name.upper()}_PORT": str(port),
            **self.extra_env,
        }
        if name == "classifier":
            env["SWITCHBOARD_CLASSIFIER_GROUP_ID"] = f"{self.prefix}classifier"
            env["SWITCHBOARD_CLASSIFIER_DATA_DIR"] = str(self.workdir / "classifier-data")
        if name == "router":
            env["SWITCHBOARD_ROUTER_GROUP_ID"] = f"{self.prefix}router"
            env["SWITCHBOARD_DATABASE_URL"] = self.database_url
        if name == "ingest":
            env["SWITCHBOARD_INGEST_STATE_DIR"] = str(self.workdir / "ingest-state")
            keys = self.workdir / "ingest-api-keys.json"
            keys.parent.mkdir(parents=True, exist_ok=True)
            digest = hashlib.sha256(INGEST_API_KEY.encode()).hexdigest()
            keys.write_text(json.dumps([{"name": "bench", "sha256": digest, "sources": ["*"]}]))
            env["SWITCHBOARD_INGEST_API_KEYS_FILE"] = str(keys)
            # One key pushes thousands of mentions a second here: measuring
            # ingest, not its per-key limit (that has its own tests).
            env.setdefault("SWITCHBOARD_INGEST_KEY_RATE_PER_SECOND", "1000000")
            env.setdefault("SWITCHBOARD_INGEST_KEY_BURST", "1000000")
        return env

    def start(self, *names: str, wait: bool = True) -> None:
        for name in names:
            port = free_port()
            service = Service(name, port, self.env(name, port), self.workdir / f"{name}.log")
            self.services[name] = service
            service.start()
        if wait:
            for name in names:
                self.services[name].wait_ready()

    def restart(self, name: str) -> None:
        service = self.services[name]
        service.stop()
        service.restarts += 1
        service.start()
        service.wait_ready()

    def stop_all(self) -> None:
        for service in reversed(list(self.services.values())):
            service.stop()

    def rss(self) -> dict[str, float]:
        return {
            name: round(s.peak_rss_mb(), 1)
            for name, s in self.services.items()
            if s.proc and s.proc.poll() is None
        }


def write_json(path: Path, data: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
