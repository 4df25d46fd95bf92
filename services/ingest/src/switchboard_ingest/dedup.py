"""Which mentions ingest has already accepted: duplicate detection.

Where the memory lives, and why: the raw topic itself. Every accepted mention
is on `mentions.raw.v1` keyed by its mention id, so each ingest replica tails
that topic (all partitions, no consumer group) into a bounded, time-windowed
local set. At start-up a replica first reads the topic from `now - window`
until it has caught up, and only then takes traffic: so a restart remembers
what came before, and every replica learns what the others accepted.

What this does not give is a lock across replicas: two replicas handed the
same mention within the few milliseconds before either sees the other's
record can both write it. That is harmless by construction: the mention id is
derived from (source, source id), and the router stores one item per mention
id. A database with a unique key would close the gap, at the price of a
second system on the write path that must stay consistent with Kafka (a row
written but the Kafka write lost would silently drop a mention), which is the
worse failure for an operations centre.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from switchboard_ingest import metrics
from switchboard_ingest.settings import IngestSettings
from switchboard_shared.background import BackgroundLoop
from switchboard_shared.kafka import Backoff, client_options, partitions_of
from switchboard_shared.logs import fields
from switchboard_shared.topics import RAW

log = logging.getLogger(__name__)


class SeenMentions:
    """A bounded set of mention ids with the time each was first accepted."""

    def __init__(self, *, window_seconds: float, max_entries: int) -> None:
        self.window_seconds = window_seconds
        self.max_entries = max_entries
        self._seen: OrderedDict[str, float] = OrderedDict()

    def __len__(self) -> int:
        return len(self._seen)

    def _expire(self, now: float) -> None:
        horizon = now - self.window_seconds
        while self._seen:
            oldest_id, first_seen = next(iter(self._seen.items()))
            if first_seen >= horizon and len(self._seen) <= self.max_entries:
                break
            del self._seen[oldest_id]

    def contains(self, mention_id: str, *, now: float | None = None) -> bool:
        """True when the mention was accepted within the window."""
        now = time.time() if now is None else now
        first_seen = self._seen.get(mention_id)
        return first_seen is not None and first_seen >= now - self.window_seconds

    def add(self, mention_id: str, *, at: float | None = None) -> None:
        """Remember a mention as accepted at `at` (epoch seconds); the first time wins."""
        at = time.time() if at is None else at
        if mention_id not in self._seen:
            self._seen[mention_id] = at
        self._expire(max(at, time.time()))


class RawTopicTail(BackgroundLoop):
    """Tails the raw topic into a SeenMentions; `caught_up` once the start-up backlog is read."""

    task_name = "raw-topic-tail"

    def __init__(self, settings: IngestSettings, seen: SeenMentions) -> None:
        self.settings = settings
        self.seen = seen
        self.caught_up = asyncio.Event()

    async def _run(self) -> None:
        backoff = Backoff()
        while True:
            try:
                await self._tail()
            except asyncio.CancelledError:
                raise
            except (KafkaError, OSError, TimeoutError) as exc:
                log.warning(
                    "tailing the raw topic failed; retrying",
                    extra=fields(error=repr(exc), retry_in=backoff.delay),
                )
                await backoff.wait()

    @staticmethod
    async def _reached(consumer: AIOKafkaConsumer, ends: dict[TopicPartition, int]) -> bool:
        for tp, end in ends.items():
            if await consumer.position(tp) < end:
                return False
        return True

    async def _tail(self) -> None:
        topic = RAW.name(self.settings.topic_prefix)
        consumer = AIOKafkaConsumer(
            **client_options(self.settings),
            group_id=None,
            enable_auto_commit=False,
            client_id="switchboard-ingest-dedup",
        )
        await consumer.start()
        try:
            partitions = await partitions_of(self.settings, topic)
            while not partitions:  # ingest creates the topics at start-up, maybe just now
                await asyncio.sleep(0.2)
                partitions = await partitions_of(self.settings, topic)
            tps = [TopicPartition(topic, p) for p in partitions]
            consumer.assign(tps)
            since_ms = int((time.time() - self.settings.ingest_dedup_window_seconds) * 1000)
            starts = await consumer.offsets_for_times(dict.fromkeys(tps, max(since_ms, 0)))
            ends = await consumer.end_offsets(tps)
            for tp in tps:
                start = starts.get(tp)
                consumer.seek(tp, start.offset if start is not None else ends[tp])
            remaining = {tp: ends[tp] for tp in tps}
            started = time.monotonic()
            while True:
                batches = await consumer.getmany(timeout_ms=500, max_records=5000)
                for records in batches.values():
                    for record in records:
                        if record.key:
                            self.seen.add(record.key.decode(), at=record.timestamp / 1000)
                if not self.caught_up.is_set() and await self._reached(consumer, remaining):
                    self.caught_up.set()
                    log.info(
                        "duplicate memory caught up with the raw topic",
                        extra=fields(
                            remembered=len(self.seen), seconds=round(time.monotonic() - started, 2)
                        ),
                    )
                metrics.DEDUP_REMEMBERED.set(len(self.seen))
        finally:
            await consumer.stop()
