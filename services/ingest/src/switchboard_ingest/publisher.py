"""Writing to Kafka: 202 only after the broker's ack, 503 instead of unbounded buffering.

The producer starts in the background so the API can answer (with 503) while
Kafka is still down. A write not acknowledged within the bound is refused,
and so is a write beyond the in-flight limit: when Kafka is slow the callers
are told to come back later rather than piling up in memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from pydantic import BaseModel

from switchboard_ingest import metrics
from switchboard_ingest.doors import Refusal
from switchboard_ingest.settings import IngestSettings
from switchboard_shared.background import cancel_and_wait
from switchboard_shared.kafka import Backoff, encode, ensure_topics, new_producer, unreachable
from switchboard_shared.logs import fields
from switchboard_shared.topics import ALL

log = logging.getLogger(__name__)


class KafkaUnavailable(Exception):
    """Kafka did not acknowledge a write (or cannot take more); the caller should retry later.

    `delivery` is set when the record was handed to the producer but not
    acknowledged in time: the producer keeps retrying it, so it may still land.
    """

    def __init__(self, cause: str, delivery: asyncio.Future[Ack] | None = None) -> None:
        super().__init__(cause)
        self.cause = cause
        self.delivery = delivery


@dataclass(frozen=True)
class Ack:
    """Where Kafka stored a record."""

    topic: str
    partition: int
    offset: int


class Publisher:
    """Owns the ingest producer: starts it, retries its start, writes with bounds."""

    def __init__(self, settings: IngestSettings) -> None:
        self.settings = settings
        self._producer: AIOKafkaProducer | None = None
        self._starter: asyncio.Task[None] | None = None
        self._in_flight = 0
        self.topics_ready = asyncio.Event()

    @property
    def ready(self) -> bool:
        """True once the producer is started."""
        return self._producer is not None

    def start(self) -> None:
        """Begin connecting in the background."""
        self._starter = asyncio.create_task(self._start_until_connected(), name="producer-start")

    async def _start_until_connected(self) -> None:
        backoff = Backoff()
        while True:
            producer = new_producer(
                self.settings,
                client_id="switchboard-ingest",
                linger_ms=self.settings.ingest_kafka_linger_ms,
            )
            try:
                if self.settings.create_topics:
                    await ensure_topics(self.settings, ALL)
                self.topics_ready.set()
                await producer.start()
            except asyncio.CancelledError:
                with contextlib.suppress(Exception):
                    await producer.stop()  # a half-started producer holds connections
                raise
            except (KafkaError, OSError, TimeoutError) as exc:
                await producer.stop()
                log.warning(
                    "Kafka not reachable yet; intake answers 503 until it is",
                    extra=fields(
                        bootstrap=self.settings.kafka_bootstrap_servers,
                        error=repr(exc),
                        retry_in=backoff.delay,
                    ),
                )
                await backoff.wait()
                continue
            self._producer = producer
            metrics.KAFKA_CONNECTED.set(1)
            log.info("Kafka producer started")
            return

    async def stop(self) -> None:
        """Flush and stop the producer."""
        if self._starter is not None:
            # Awaited, not only cancelled: a start still connecting must not leave a
            # producer behind.
            with contextlib.suppress(Exception):
                await cancel_and_wait(self._starter)
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None
            metrics.KAFKA_CONNECTED.set(0)

    async def check(self) -> str | None:
        """None when Kafka answers a metadata request, else what is wrong."""
        if self._producer is None:
            return "kafka producer not started"
        return await unreachable(self._producer)

    async def publish(self, topic: str, key: str | None, event: BaseModel) -> Ack:
        """Write one event; return once Kafka acknowledged it, else raise KafkaUnavailable."""
        producer = self._producer
        if producer is None:
            raise KafkaUnavailable(Refusal.PRODUCER_NOT_STARTED)
        if self._in_flight >= self.settings.ingest_max_in_flight:
            raise KafkaUnavailable(Refusal.TOO_MANY_IN_FLIGHT)
        self._in_flight += 1
        metrics.IN_FLIGHT.set(self._in_flight)
        started = time.perf_counter()
        try:
            async with asyncio.timeout(self.settings.kafka_ack_timeout_seconds):
                future = await producer.send(
                    topic, encode(event), key=key.encode() if key else None
                )
        except TimeoutError as exc:
            self._done()
            raise KafkaUnavailable(Refusal.METADATA_TIMEOUT) from exc
        except KafkaError as exc:
            self._done()
            raise KafkaUnavailable(type(exc).__name__) from exc
        # From here the record is the producer's: it retries it until it lands
        # or expires, whatever we answer. Track that outcome rather than
        # forgetting it, so a retry of the same mention cannot write a twin.
        delivery: asyncio.Future[Ack] = asyncio.get_running_loop().create_future()

        def settle(sent: asyncio.Future[object]) -> None:
            self._done()
            if delivery.done():
                return
            if sent.cancelled():
                delivery.set_exception(KafkaUnavailable(Refusal.CANCELLED))
            elif (error := sent.exception()) is not None:
                delivery.set_exception(KafkaUnavailable(type(error).__name__))
            else:
                metadata: Any = sent.result()
                metrics.KAFKA_ACK_SECONDS.observe(time.perf_counter() - started)
                delivery.set_result(
                    Ack(topic=metadata.topic, partition=metadata.partition, offset=metadata.offset)
                )

        future.add_done_callback(settle)
        try:
            return await asyncio.wait_for(
                asyncio.shield(delivery), self.settings.kafka_ack_timeout_seconds
            )
        except TimeoutError as exc:
            raise KafkaUnavailable(Refusal.ACK_TIMEOUT, delivery) from exc

    def _done(self) -> None:
        self._in_flight -= 1
        metrics.IN_FLIGHT.set(self._in_flight)
