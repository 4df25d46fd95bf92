"""Helpers for ingest's integration tests: the app served by a test client, settings
on the test broker, and settings whose Kafka is not there."""

import pytest
from fastapi.testclient import TestClient

from conftest import free_port, wait_app_ready
from switchboard_ingest.app import create_app
from switchboard_ingest.settings import IngestSettings


@pytest.fixture
def client(settings):
    """The ingest app built from the test module's `settings` fixture, started and ready."""
    with TestClient(create_app(settings)) as client:
        wait_app_ready(client)
        yield client


@pytest.fixture
def broker_settings(kafka_bootstrap, topic_prefix):
    """Makes settings of ingest on the test broker, under the test's topic prefix;
    keyword arguments set more fields."""

    def make(**fields) -> IngestSettings:
        return IngestSettings(
            kafka_bootstrap_servers=kafka_bootstrap, topic_prefix=topic_prefix, **fields
        )

    return make


@pytest.fixture
def unreachable_kafka_settings(topic_prefix):
    """Makes settings of open intake whose Kafka is a port nobody listens on, giving up
    on an ack after 1 s; keyword arguments set more fields."""

    def make(**fields) -> IngestSettings:
        return IngestSettings(
            kafka_bootstrap_servers=f"127.0.0.1:{free_port()}",
            topic_prefix=topic_prefix,
            kafka_ack_timeout_seconds=1,
            ingest_allow_open=True,
            **fields,
        )

    return make
