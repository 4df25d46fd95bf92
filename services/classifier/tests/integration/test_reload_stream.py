"""The running classifier process takes up a changed rule set from its file, on the real broker.

The stream checks its files only when a batch arrives, so the test keeps
sending the same mention until a classification carries the new version
instead of waiting for a fixed time.
"""

import asyncio
import re
import shutil
import time
import uuid
from pathlib import Path

import httpx
import pytest
import yaml
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

import switchboard_classifier
from switchboard_shared.events import MentionClassified, MentionIn, MentionReceived, Urgency
from switchboard_shared.topics import CLASSIFIED, RAW
from tests.classifier_worker import ClassifierLauncher

pytestmark = pytest.mark.kafka

SHIPPED_RULESET = Path(switchboard_classifier.__file__).parent / "ruleset.yaml"
WORD = "zorblax"
TEXT = f"the {WORD} is loose on Birch St"
RELOAD_SECONDS = 0.5


class Stream:
    """Sends mentions to the raw topic and picks each one's classification off the classified topic."""

    def __init__(self, producer: AIOKafkaProducer, consumer: AIOKafkaConsumer, prefix: str):
        self.producer = producer
        self.consumer = consumer
        self.prefix = prefix
        self.seen: dict[str, MentionClassified] = {}

    async def classify(self, text: str, timeout: float = 20.0) -> MentionClassified:
        """Produce one new mention of `text` and return its classification."""
        mention = MentionIn(
            source="sms",
            source_id=uuid.uuid4().hex,
            text=text,
            created_at="2026-11-29T22:00:00Z",
        )
        event = MentionReceived(mention_id=mention.mention_id, mention=mention)
        await self.producer.send_and_wait(
            RAW.name(self.prefix), event.model_dump_json().encode(), key=event.mention_id.encode()
        )
        deadline = time.monotonic() + timeout
        while event.mention_id not in self.seen and time.monotonic() < deadline:
            for batch in (await self.consumer.getmany(timeout_ms=200)).values():
                for record in batch:
                    out = MentionClassified.model_validate_json(record.value)
                    self.seen[out.mention_id] = out
        if event.mention_id not in self.seen:
            pytest.fail(f"no classification of {event.mention_id} within {timeout}s")
        return self.seen[event.mention_id]


def metric(metrics_url: str, name: str) -> float | None:
    """The value of one sample (`name` with its labels, as exposed), or None when absent."""
    text = httpx.get(metrics_url, timeout=5).text
    match = re.search(rf"^{re.escape(name)} (\S+)$", text, re.MULTILINE)
    return float(match.group(1)) if match else None


def add_word_as_active_threat(ruleset: Path, version: str) -> None:
    """Rewrite the rule set with a new version and WORD as an English active-threat pattern."""
    doc = yaml.safe_load(ruleset.read_text())
    doc["version"] = version
    doc["packs"]["en"]["topics"]["active_threat"].append(WORD)
    ruleset.write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True))


async def test_running_service_swaps_in_a_changed_rule_set_and_keeps_it_when_the_next_is_broken(
    kafka_bootstrap, topic_prefix, port_factory, service_runner, raw_producer, tmp_path
):
    ruleset = tmp_path / "ruleset.yaml"
    shutil.copy(SHIPPED_RULESET, ruleset)
    old_version = yaml.safe_load(ruleset.read_text())["version"]
    new_version = f"{old_version}-{WORD}"
    launcher = ClassifierLauncher(service_runner, port_factory, kafka_bootstrap, topic_prefix)
    worker, metrics_url = launcher.start(
        ruleset,
        RELOAD_SECONDS,
        tmp_path / "classifier-data",
        # Rules alone: what the mention scores must follow from the rule set
        # under test, not from whichever model happens to be shipped.
        SWITCHBOARD_CLASSIFIER_USE_MODEL="false",
    )
    # The process answering on the port: a restart would change its start time.
    started_at = metric(metrics_url, "process_start_time_seconds")
    assert started_at is not None

    consumer = AIOKafkaConsumer(
        CLASSIFIED.name(topic_prefix),
        bootstrap_servers=kafka_bootstrap,
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        stream = Stream(raw_producer, consumer, topic_prefix)

        before = (await stream.classify(TEXT)).classification
        assert (before.urgency, before.ruleset_version) == (Urgency.LOW, old_version)
        assert not any(WORD in reason.matched for reason in before.reasons)

        add_word_as_active_threat(ruleset, new_version)
        deadline = time.monotonic() + 20
        after = before
        while after.ruleset_version != new_version and time.monotonic() < deadline:
            after = (await stream.classify(TEXT)).classification
            if after.ruleset_version == old_version:
                assert after.urgency is Urgency.LOW, after
                await asyncio.sleep(RELOAD_SECONDS / 2)
        assert after.ruleset_version == new_version, worker.log_tail()
        assert after.urgency is Urgency.CRITICAL
        assert "active_threat" in after.topics
        assert any(r.rule == "topics.active_threat" and WORD in r.matched for r in after.reasons), (
            after.reasons
        )
        assert metric(
            metrics_url, f'switchboard_classifier_ruleset_info{{version="{new_version}"}}'
        )
        assert metric(metrics_url, 'switchboard_classifier_reloads_total{outcome="swapped"}') == 1
        assert worker.proc.poll() is None, worker.log_tail()
        assert metric(metrics_url, "process_start_time_seconds") == started_at

        ruleset.write_text(f'version: "broken"\npacks: {{en: {{topics: [{WORD}\n')
        refused = 'switchboard_classifier_reloads_total{outcome="refused"}'
        deadline = time.monotonic() + 20
        while not metric(metrics_url, refused) and time.monotonic() < deadline:
            during = (await stream.classify(TEXT)).classification
            assert (during.urgency, during.ruleset_version) == (Urgency.CRITICAL, new_version)
            await asyncio.sleep(RELOAD_SECONDS / 2)
        assert metric(metrics_url, refused) == 1, worker.log_tail()

        kept = (await stream.classify(TEXT)).classification
        assert (kept.urgency, kept.ruleset_version) == (Urgency.CRITICAL, new_version)
        assert any(WORD in r.matched for r in kept.reasons)
        assert metric(
            metrics_url, f'switchboard_classifier_ruleset_info{{version="{new_version}"}}'
        )
        assert metric(metrics_url, 'switchboard_classifier_reloads_total{outcome="swapped"}') == 1
        assert worker.proc.poll() is None, worker.log_tail()
        assert metric(metrics_url, "process_start_time_seconds") == started_at
    finally:
        await consumer.stop()
