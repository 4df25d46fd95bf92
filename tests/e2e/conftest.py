"""Fixtures of the end-to-end tests, beside the helpers of the root conftest."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from conftest import ServiceProcess, start_pipeline

StartServices = Callable[..., tuple[dict[str, str], dict[str, ServiceProcess]]]


@pytest.fixture
def start_services(
    kafka_bootstrap: str,
    topic_prefix: str,
    database_url: str,
    port_factory: Callable[[], int],
    service_runner: Callable[[str, dict[str, str]], ServiceProcess],
    tmp_path: Path,
) -> StartServices:
    """Starts this test's ingest, classifier and router (`start_pipeline`) on its topics,
    database and broker (or the one given as `kafka_bootstrap`); returns (urls, processes)."""

    def start(
        *, kafka_bootstrap: str = kafka_bootstrap, **options: Any
    ) -> tuple[dict[str, str], dict[str, ServiceProcess]]:
        # options: api_key and admin_token, and kafka_env or ingest_env when a test needs them.
        return start_pipeline(
            service_runner,
            port_factory,
            kafka_bootstrap=kafka_bootstrap,
            topic_prefix=topic_prefix,
            database_url=database_url,
            keys_dir=tmp_path,
            **options,
        )

    return start
