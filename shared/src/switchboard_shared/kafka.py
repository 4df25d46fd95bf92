"""Thin helpers over aiokafka: the connection, the no-loss client settings and topic creation.

Producers are idempotent with `acks=all`; consumers never auto-commit (a stage
commits after its effect is durable). Every client in Switchboard is built here
so these choices are made once. `client_options` is the one translation of
`KafkaSettings` (bootstrap servers, TLS, SASL) into aiokafka's arguments: every
producer, consumer and admin client of every service gets its connection
from it (the classifier's faust app maps the same settings and the same TLS
context to faust's broker credentials).
"""

from __future__ import annotations

import asyncio
import json
import logging
import ssl
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import CommitFailedError, KafkaError, TopicAlreadyExistsError
from aiokafka.helpers import create_ssl_context
from pydantic import BaseModel, ValidationError

from switchboard_shared.background import BackgroundLoop
from switchboard_shared.deadletters import ReadRecord, dead_letter_of
from switchboard_shared.events import DeadLetter, DeadLetterReason
from switchboard_shared.logs import describe_invalid, fields
from switchboard_shared.settings import CommonSettings, KafkaSettings
from switchboard_shared.topics import TopicSpec

log = logging.getLogger(__name__)


def tls_context(settings: KafkaSettings) -> ssl.SSLContext | None:
    """The TLS context for the brokers, or None when the protocol does not use TLS.

    Built anew for every client, so a CA or client certificate rotated on disk
    (a mounted Kubernetes secret) is used by the next connection.
    """
    if not settings.kafka_security_protocol.uses_tls:
        return None
    context: ssl.SSLContext = create_ssl_context(
        cafile=settings.kafka_ssl_cafile,
        certfile=settings.kafka_ssl_certfile,
        keyfile=settings.kafka_ssl_keyfile,
        password=settings.key_password() if settings.kafka_ssl_certfile else None,
    )
    context.check_hostname = settings.kafka_ssl_check_hostname
    return context


def client_options(settings: KafkaSettings) -> dict[str, Any]:
    """aiokafka keyword arguments that connect a client as `settings` say (servers, TLS, SASL)."""
    protocol = settings.kafka_security_protocol
    options: dict[str, Any] = {
        "bootstrap_servers": settings.kafka_bootstrap_servers,
        "security_protocol": protocol.value,
    }
    context = tls_context(settings)
    if context is not None:
        options["ssl_context"] = context
    if protocol.uses_sasl:
        assert settings.kafka_sasl_password is not None  # checked by KafkaSettings
        options["sasl_mechanism"] = settings.kafka_sasl_mechanism.value
        options["sasl_plain_username"] = settings.kafka_sasl_username
        options["sasl_plain_password"] = settings.kafka_sasl_password.get_secret_value()
    return options


# How long a producer holds a record for more to join its batch, unless told otherwise.
LINGER_MS = 5


def new_producer(
    settings: CommonSettings, *, client_id: str, linger_ms: int = LINGER_MS
) -> AIOKafkaProducer:
    """An idempotent producer: `acks=all`, retries without duplicates.

    `linger_ms=0` holds nothing back, and still batches under load: aiokafka has one
    request in flight per broker, and the records that arrive while it waits for the
    ack go out together in the next one, so a batch grows with the load (up to the
    producer's batch size) and an idle producer sends at once.
    """
    return AIOKafkaProducer(
        **client_options(settings),
        client_id=client_id,
        enable_idempotence=True,  # also forces acks="all"
        acks="all",
        linger_ms=linger_ms,
        request_timeout_ms=int(settings.kafka_ack_timeout_seconds * 1000),
        compression_type=None,
    )


def new_consumer(
    settings: CommonSettings, *topics: TopicSpec, group_id: str, client_id: str
) -> AIOKafkaConsumer:
    """A consumer in `group_id` that commits only when told to."""
    return AIOKafkaConsumer(
        *(spec.name(settings.topic_prefix) for spec in topics),
        **client_options(settings),
        group_id=group_id,
        client_id=client_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
    )


async def ensure_topics(
    settings: CommonSettings, specs: Iterable[TopicSpec], *, timeout_seconds: float = 30.0
) -> list[str]:
    """Create the topics that are missing; return the names it created."""
    wanted = {spec.name(settings.topic_prefix): spec for spec in specs}
    admin = AIOKafkaAdminClient(**client_options(settings), client_id="switchboard-admin")
    await asyncio.wait_for(admin.start(), timeout_seconds)
    try:
        existing = set(await asyncio.wait_for(admin.list_topics(), timeout_seconds))
        missing = [
            NewTopic(
                name=name,
                num_partitions=spec.partitions,
                replication_factor=settings.topic_replication_factor,
                topic_configs={"retention.ms": str(spec.retention_ms)},
            )
            for name, spec in wanted.items()
            if name not in existing
        ]
        if not missing:
            return []
        try:
            response: Any = await asyncio.wait_for(admin.create_topics(missing), timeout_seconds)
        except TopicAlreadyExistsError:
            # Another replica created them between our list and our create.
            return []
        created = []
        for name, code, *_ in getattr(response, "topic_errors", []):
            if code == 0:
                created.append(name)
            elif code != TopicAlreadyExistsError.errno:
                raise KafkaError(f"creating topic {name} failed with Kafka error code {code}")
        if created:
            log.info("created topics %s", ", ".join(sorted(created)))
        return created
    finally:
        await admin.close()


async def wait_for_kafka(settings: CommonSettings, *, timeout_seconds: float) -> None:
    """Return once the cluster answers a metadata request; raise TimeoutError after the bound."""
    deadline = asyncio.get_running_loop().time() + timeout_seconds
    last_error: Exception | None = None
    while asyncio.get_running_loop().time() < deadline:
        admin = AIOKafkaAdminClient(**client_options(settings), client_id="switchboard-probe")
        try:
            await asyncio.wait_for(admin.start(), 5)
            await asyncio.wait_for(admin.list_topics(), 5)
            return
        except (KafkaError, OSError, TimeoutError) as exc:
            last_error = exc
            await asyncio.sleep(0.5)
        finally:
            await admin.close()
    raise TimeoutError(
        f"Kafka at {settings.kafka_bootstrap_servers} did not answer within "
        f"{timeout_seconds:.0f}s: {last_error!r}"
    )


def encode(event: Any) -> bytes:
    """Serialise an event model to JSON bytes."""
    data: bytes = event.model_dump_json().encode()
    return data


async def partitions_of(settings: CommonSettings, topic: str) -> list[int]:
    """The partition ids of `topic` (empty while it does not exist)."""
    admin = AIOKafkaAdminClient(**client_options(settings), client_id="switchboard-admin")
    await admin.start()
    try:
        described = await admin.describe_topics([topic])
    finally:
        await admin.close()
    for entry in described:
        if entry.get("topic") == topic and entry.get("error_code", 0) == 0:
            return sorted(p["partition"] for p in entry.get("partitions", []))
    return []


class Backoff:
    """Waits between tries at reaching Kafka: from `first` seconds, doubling up to `longest`."""

    def __init__(self, first: float = 0.5, longest: float = 10.0) -> None:
        self.delay = first
        self.longest = longest

    async def wait(self) -> None:
        """Sleep the current delay, then double it (up to the longest)."""
        await asyncio.sleep(self.delay)
        self.delay = min(self.delay * 2, self.longest)


async def start_group_member(
    settings: CommonSettings,
    topic: TopicSpec,
    *,
    group_id: str,
    client_id: str,
    logger: logging.Logger,
    create: Iterable[TopicSpec] = (),
    linger_ms: int = LINGER_MS,
) -> tuple[AIOKafkaProducer, AIOKafkaConsumer]:
    """A started producer and a consumer of `topic` in `group_id`, tried with back-off until
    Kafka answers (a stage starts before its broker and waits); `create`'s topics are made
    first when `SWITCHBOARD_CREATE_TOPICS` says so. `linger_ms` is the producer's."""
    backoff = Backoff()
    while True:
        producer = new_producer(settings, client_id=client_id, linger_ms=linger_ms)
        consumer = new_consumer(settings, topic, group_id=group_id, client_id=client_id)
        try:
            if settings.create_topics and create:
                await ensure_topics(settings, create)
            await producer.start()
            await consumer.start()
        except (KafkaError, OSError, TimeoutError) as exc:
            await producer.stop()
            await consumer.stop()
            logger.warning(
                "Kafka not reachable yet", extra=fields(error=repr(exc), retry_in=backoff.delay)
            )
            await backoff.wait()
            continue
        return producer, consumer


Event = TypeVar("Event", bound=BaseModel)


def read_record(record: ReadRecord, model: type[Event], *, stage: str) -> Event | DeadLetter:
    """The event of `model` a record carries, or the dead letter saying why it carries none
    (no value, not JSON, not the schema: the error names fields and rules, never values)."""

    def dead(reason: str, error: str, mention_id: str | None = None) -> DeadLetter:
        return dead_letter_of(
            record, stage=stage, reason=reason, error=error, mention_id=mention_id
        )

    if record.value is None:
        return dead(DeadLetterReason.EMPTY, "record has no value")
    try:
        payload = json.loads(record.value)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return dead(DeadLetterReason.NOT_JSON, str(exc))
    mention_id = payload.get("mention_id") if isinstance(payload, dict) else None
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        return dead(
            DeadLetterReason.SCHEMA,
            describe_invalid(exc),
            mention_id if isinstance(mention_id, str) else None,
        )


class GroupMember(BackgroundLoop):
    """A background loop that reads one topic as a member of a consumer group and writes
    with a producer of its own: it joins (`join`) when its loop starts, and `stop` ends
    the loop, then both clients. `started` is set once it has joined."""

    consumer: AIOKafkaConsumer | None = None
    producer: AIOKafkaProducer | None = None

    def __init__(self) -> None:
        self.started = asyncio.Event()

    async def join(
        self,
        settings: CommonSettings,
        topic: TopicSpec,
        *,
        group_id: str,
        client_id: str,
        logger: logging.Logger,
        create: Iterable[TopicSpec] = (),
        linger_ms: int = LINGER_MS,
    ) -> AIOKafkaConsumer:
        """Start both clients (waiting for Kafka as long as it takes); the consumer."""
        self.producer, self.consumer = await start_group_member(
            settings,
            topic,
            group_id=group_id,
            client_id=client_id,
            logger=logger,
            create=create,
            linger_ms=linger_ms,
        )
        self.started.set()
        logger.info("consuming", extra=fields(topic=topic.base_name, group=group_id))
        return self.consumer

    async def commit(
        self, offsets: Mapping[TopicPartition, int], *, logger: logging.Logger
    ) -> None:
        """Commit `offsets` (each partition's next record to read; none: nothing to do).

        A commit fails when a rebalance gave the partitions to another member first, or
        Kafka did not answer: that member reads again from the last commit, which each
        consumer makes safe in its own way (it says how where it commits). The failure is
        logged, not raised, so the loop goes on with the partitions it owns now.
        """
        if not offsets:
            return
        assert self.consumer is not None, "commit before join"
        try:
            await self.consumer.commit(dict(offsets))
        except (CommitFailedError, KafkaError) as exc:
            logger.warning(
                "offset commit failed; records will be replayed", extra=fields(error=repr(exc))
            )

    async def stop(self) -> None:
        """Stop the loop, then the clients."""
        await super().stop()
        await self.stop_clients()

    async def stop_clients(self) -> None:
        """Stop the consumer (leaving the group), then the producer."""
        if self.consumer is not None:
            await self.consumer.stop()
        if self.producer is not None:
            await self.producer.stop()


# The waits between tries at a write that must not be dropped (a batch's records
# to Kafka, a batch's items to the database): short at first, then the last one
# for as long as it takes.
RETRY_DELAYS_SECONDS = (0.2, 0.5, 1.0, 2.0, 5.0)


def retry_delay(attempt: int) -> float:
    """The wait after failed try `attempt` (0 the first): each of RETRY_DELAYS_SECONDS, then the last."""
    return RETRY_DELAYS_SECONDS[min(attempt, len(RETRY_DELAYS_SECONDS) - 1)]


async def send_acknowledged(
    producer: AIOKafkaProducer,
    records: Sequence[tuple[str, bytes | None, bytes]],
    *,
    ack_timeout_seconds: float,
    logger: logging.Logger,
    failed: str,
    on_retry: Callable[[], object],
) -> None:
    """Send `records` (topic, key, value) and wait until Kafka acknowledged every one.

    After a Kafka error or timeout: `on_retry()`, a warning `failed` on `logger`,
    a wait of `retry_delay`, and all of them again, until Kafka takes them.
    """
    attempt = 0
    while True:
        try:
            futures = [await producer.send(topic, value, key=key) for topic, key, value in records]
            await asyncio.wait_for(asyncio.gather(*futures), ack_timeout_seconds * 2)
            return
        except (KafkaError, TimeoutError) as exc:
            on_retry()
            delay = retry_delay(attempt)
            logger.warning(
                failed,
                extra=fields(
                    records=len(records), attempt=attempt + 1, error=repr(exc), retry_in=delay
                ),
            )
            attempt += 1
            await asyncio.sleep(delay)


READINESS_TIMEOUT_SECONDS = 2.0


async def unreachable(producer: AIOKafkaProducer) -> str | None:
    """For /readyz: None when Kafka answers the producer's metadata request in time, else
    why not. Any failure means not ready, so every exception is an answer here."""
    try:
        await asyncio.wait_for(producer.client.fetch_all_metadata(), READINESS_TIMEOUT_SECONDS)
    except Exception as exc:
        return f"kafka unreachable: {exc!r}"
    return None
