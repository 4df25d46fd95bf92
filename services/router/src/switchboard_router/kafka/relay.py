"""The outbox relay: publishes events that steps wrote to the `outbox` table
(`queued` included), then deletes them. `relay_batch` is one pass; the relay
task runs it when woken and every second, the consumer after each batch for the
events of that batch's mentions only (so a backlog of other events, an SLA storm's
breaches and escalations, never holds a new mention's `queued` event back).

Rows are taken in id order and leased for `LEASE` seconds (`claimed_until`)
in a short transaction — with `FOR UPDATE SKIP LOCKED` on PostgreSQL so two
replicas take different rows — then sent with the idempotent producer, and
deleted only after Kafka acknowledged them. A crash after the send and before
the delete sends them again: at-least-once, and every event carries its
`event_id` for consumers that must not count twice. Events of one mention
keep their order within one batch; across batches taken at once (replicas,
or the consumer beside the relay task) they may not.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from sqlalchemy import Engine, delete, or_, select, update
from sqlalchemy.exc import SQLAlchemyError

from switchboard_router import metrics
from switchboard_router.db.tables import outbox
from switchboard_router.settings import RouterSettings
from switchboard_shared.background import BackgroundLoop
from switchboard_shared.logs import fields
from switchboard_shared.topics import ALL

log = logging.getLogger(__name__)

LEASE = timedelta(seconds=30)
BATCH = 500
TOPICS = {spec.base_name: spec for spec in ALL}


def take_batch(engine: Engine, *, now: datetime, keys: Sequence[str] | None = None) -> list[Any]:
    """Lease the oldest unsent events to this relay (`keys`: only those with these keys)."""
    with engine.begin() as conn:
        query = (
            select(outbox.c.id, outbox.c.topic, outbox.c.key, outbox.c.payload)
            .where(or_(outbox.c.claimed_until.is_(None), outbox.c.claimed_until < now))
            .order_by(outbox.c.id)
            .limit(BATCH)
        )
        if keys is not None:
            query = query.where(outbox.c.key.in_(list(keys)))
        if conn.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        rows = conn.execute(query).all()
        if rows:
            conn.execute(
                update(outbox)
                .where(outbox.c.id.in_([r.id for r in rows]))
                .values(claimed_until=now + LEASE)
            )
    return list(rows)


def finish(engine: Engine, *, ids: list[int], sent: bool) -> None:
    """Delete sent events, or hand unsent ones back for the next try."""
    with engine.begin() as conn:
        where = outbox.c.id.in_(ids)
        if sent:
            conn.execute(delete(outbox).where(where))
        else:
            conn.execute(update(outbox).where(where).values(claimed_until=None))


def backlog(engine: Engine) -> int:
    """How many events wait in the outbox."""
    from sqlalchemy import func

    with engine.connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(outbox)) or 0)


async def relay_batch(
    settings: RouterSettings,
    engine: Engine,
    producer: AIOKafkaProducer,
    *,
    keys: Sequence[str] | None = None,
) -> bool:
    """Publish one batch of the outbox (`keys`: only events with these keys) and delete
    it; True if more may be waiting."""
    rows = await asyncio.to_thread(take_batch, engine, now=datetime.now(UTC), keys=keys)
    if not rows:
        return False
    ids = [r.id for r in rows]
    try:
        futures = [
            await producer.send(
                TOPICS[r.topic].name(settings.topic_prefix),
                r.payload.encode(),
                key=r.key.encode(),
            )
            for r in rows
        ]
        await asyncio.wait_for(asyncio.gather(*futures), settings.kafka_ack_timeout_seconds * 2)
    except (KafkaError, TimeoutError) as exc:
        metrics.RETRIES.labels(metrics.Failed.KAFKA).inc()
        log.warning(
            "outbox relay: publishing failed; will retry",
            extra=fields(error=repr(exc), events=len(ids)),
        )
        await asyncio.to_thread(finish, engine, ids=ids, sent=False)
        await asyncio.sleep(1.0)
        return False
    await asyncio.to_thread(finish, engine, ids=ids, sent=True)
    metrics.EVENTS_PUBLISHED.inc(len(ids))
    return len(rows) == BATCH


class OutboxRelay(BackgroundLoop):
    """Publishes the outbox whenever woken, and at least every second."""

    task_name = "router-outbox-relay"

    def __init__(
        self,
        settings: RouterSettings,
        engine: Engine,
        producer: Callable[[], AIOKafkaProducer | None],
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.producer = producer
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None

    def start(self) -> None:
        """Relay in the background."""
        self._loop = asyncio.get_running_loop()  # for wake() from other threads
        super().start()

    def wake(self) -> None:
        """Publish soon (callable from any thread)."""
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._wake.set)

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), 1.0)
            self._wake.clear()
            producer = self.producer()
            if producer is None:
                continue
            try:
                while await relay_batch(self.settings, self.engine, producer):
                    pass
            except SQLAlchemyError as exc:
                log.error("outbox relay: database failed", extra=fields(error=repr(exc)[:300]))
