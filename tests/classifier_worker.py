"""The classifier run as a process for a test, on its own rule-set file, re-read every `reload_seconds`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from conftest import ServiceProcess, classifier_env


@dataclass(frozen=True)
class ClassifierLauncher:
    """Starts classifier processes on the test's broker and topics (the fixtures of the same names)."""

    service_runner: Callable[[str, dict[str, str]], ServiceProcess]
    port_factory: Callable[[], int]
    kafka_bootstrap: str
    topic_prefix: str

    def start(
        self, ruleset: Path, reload_seconds: float, data_dir: Path, **env: str
    ) -> tuple[ServiceProcess, str]:
        """Start one on `ruleset` (more settings in `env`), wait until it is ready; it and its metrics URL."""
        port = self.port_factory()
        worker = self.service_runner(
            "switchboard_classifier",
            classifier_env(
                self.kafka_bootstrap,
                self.topic_prefix,
                port,
                SWITCHBOARD_CLASSIFIER_RULESET_PATH=str(ruleset),
                SWITCHBOARD_CLASSIFIER_RELOAD_SECONDS=str(reload_seconds),
                SWITCHBOARD_CLASSIFIER_DATA_DIR=str(data_dir),
                **env,
            ),
        )
        worker.wait_ready(f"http://127.0.0.1:{port}/readyz")
        return worker, f"http://127.0.0.1:{port}/metrics"
