"""The router's Kafka loop: classified mentions in, queue items stored, offsets committed.

Order per batch: store items with their routed events (one database
transaction) -> relay the outbox -> cluster -> publish dead letters (await
Kafka's acks) -> commit offsets. A crash at any point replays the batch, and replay changes
nothing: an item is unique per mention id.

A batch the database cannot take because it is down or unreachable is
retried with back-off, never skipped (the fault drills rely on that). A batch
it refuses for its *data* (a value too long for its column, a constraint
broken: `DataError`, `IntegrityError`) would fail the same way forever and
stall every mention behind it, so it is split in halves, each stored in its
own transaction, until the refused record stands alone; that one goes to the
dead-letter topic with the database's reason and the rest are stored.

Storing an item queues its `queued` event in the outbox in the same
transaction, as every later step does; the consumer relays the outbox itself
after each batch (`relay.relay_batch`), so the event leaves as soon as the
item is stored, and the relay task sends whatever a failure left behind. The
claim SLA clock starts when the item is stored.

After the items are stored, clustering (`incidents/stage.py`) links each new one to
an incident in a second transaction, under an advisory lock shared by every replica.
Items not yet clustered (a crash between the two transactions) are clustered when
the batch is replayed; items already clustered keep their link.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiokafka import ConsumerRecord, TopicPartition
from pydantic import ValidationError
from sqlalchemy import Engine
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, SQLAlchemyError

from switchboard_router import metrics
from switchboard_router.incidents import stage as incidents
from switchboard_router.incidents.clustering import ClusteringConfig
from switchboard_router.items import steps
from switchboard_router.kafka.relay import relay_batch
from switchboard_router.replies import threads
from switchboard_router.routing.holder import PolicyHolder
from switchboard_router.routing.policy import Policy
from switchboard_router.settings import RouterSettings
from switchboard_shared.deadletters import dead_letter_of
from switchboard_shared.events import (
    DeadLetter,
    DeadLetterReason,
    MentionClassified,
    utc_now,
)
from switchboard_shared.kafka import (
    GroupMember,
    encode,
    retry_delay,
    send_acknowledged,
)
from switchboard_shared.logs import describe_invalid, fields, log_dead_letter
from switchboard_shared.topics import ALL, CLASSIFIED, DEADLETTER

log = logging.getLogger(__name__)

STAGE = "router"


@dataclass(frozen=True)
class Prepared:
    """A decoded, routed record ready to store."""

    event: MentionClassified
    item: steps.NewItem
    record: ConsumerRecord[Any, Any]


def _dead(
    record: ConsumerRecord[Any, Any], reason: str, error: str, mention_id: str | None
) -> DeadLetter:
    return dead_letter_of(record, stage=STAGE, reason=reason, error=error, mention_id=mention_id)


def prepare(
    policy: Policy, record: ConsumerRecord[Any, Any], *, now: datetime | None = None
) -> Prepared | DeadLetter:
    """Decode and route one record, or say why it cannot be."""
    if record.value is None:
        return _dead(record, DeadLetterReason.EMPTY, "record has no value", None)
    try:
        payload = json.loads(record.value)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return _dead(record, DeadLetterReason.NOT_JSON, str(exc), None)
    mention_id = payload.get("mention_id") if isinstance(payload, dict) else None
    try:
        event = MentionClassified.model_validate(payload)
    except ValidationError as exc:
        return _dead(
            record,
            DeadLetterReason.SCHEMA,
            describe_invalid(exc),  # logged: fields and rules, never the mention's values
            mention_id if isinstance(mention_id, str) else None,
        )
    try:
        decision = policy.explain(event.mention, event.classification)
    except Exception as exc:  # a policy bug must not stop the stream
        return _dead(
            record, DeadLetterReason.ROUTING_ERROR, f"{type(exc).__name__}: {exc}", event.mention_id
        )
    c = event.classification
    queued_at = now or utc_now()
    item = steps.NewItem(
        mention_id=event.mention_id,
        queue_id=decision.queue_id,
        urgency=c.urgency.value,
        urgency_rank=c.urgency.rank,
        score=c.score,
        topics=list(c.topics),
        reasons=[r.model_dump() for r in c.reasons],
        rule=decision.rule,
        ruleset_version=c.ruleset_version,
        policy_version=policy.version,
        source=event.mention.source.value,
        source_id=event.mention.source_id,
        text=event.mention.text,
        mention=event.mention.model_dump(mode="json"),
        received_at=event.received_at.astimezone(UTC),
        classified_at=event.classified_at.astimezone(UTC),
        priority_rank=c.urgency.rank - decision.priority_boost,
        sla_due_at=policy.claim_due(decision.queue_id, c.urgency, queued_at),
        watch_queues=decision.watch_queues,
        queued_at=queued_at,
    )
    return Prepared(event=event, item=item, record=record)


def db_error(exc: SQLAlchemyError) -> str:
    """The database's reason without the statement or its parameters (mention text)."""
    orig = exc.orig if isinstance(exc, DBAPIError) else None
    if orig is None:
        return type(exc).__name__
    first_line = (str(orig).strip().splitlines() or [""])[0]
    return f"{type(orig).__name__}: {first_line[:300]}"


async def with_database(what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
    """`fn` in a thread, retried with back-off while the database fails: the partition
    waits, no record is skipped."""
    attempt = 0
    while True:
        try:
            return await asyncio.to_thread(fn, *args, **kwargs)
        except SQLAlchemyError as exc:
            metrics.RETRIES.labels(metrics.Failed.DATABASE).inc()
            delay = retry_delay(attempt)
            log.error(
                f"{what} failed; retrying",
                extra=fields(attempt=attempt + 1, error=db_error(exc), retry_in=delay),
            )
            attempt += 1
            await asyncio.sleep(delay)


class RouterConsumer(GroupMember):
    """Consumes classified mentions into the store until stopped."""

    task_name = "router-consumer"

    def __init__(
        self,
        settings: RouterSettings,
        engine: Engine,
        policy: Policy | PolicyHolder,
        *,
        clustering: ClusteringConfig | None = None,
    ) -> None:
        super().__init__()
        self.settings = settings
        self.engine = engine
        self.policies = policy if isinstance(policy, PolicyHolder) else PolicyHolder(policy)
        self.clustering = clustering or ClusteringConfig.load(settings.router_incidents_path)
        self._next_offsets: dict[TopicPartition, int] = {}

    async def _run(self) -> None:
        consumer = await self.join(
            self.settings,
            CLASSIFIED,
            group_id=self.settings.router_group_id,
            client_id="switchboard-router",
            logger=log,
            linger_ms=self.settings.router_kafka_linger_ms,
            create=ALL,
        )
        while True:
            batches = await consumer.getmany(
                timeout_ms=500, max_records=self.settings.router_batch_size
            )
            records = [record for batch in batches.values() for record in batch]
            self._observe_lag()
            if not records:
                continue
            with metrics.BATCH_SECONDS.time():
                await self.handle_batch(records)
                offsets = {tp: batch[-1].offset + 1 for tp, batch in batches.items() if batch}
                # After a rebalance another member owns these partitions and replays the
                # batch; storing is idempotent, so a refused commit is safe.
                await self.commit(offsets, logger=log)
                self._next_offsets.update(offsets)

    async def handle_batch(self, records: list[ConsumerRecord[Any, Any]]) -> None:
        """Store a batch and publish what it produced; return only once both are durable."""
        metrics.CONSUMED.inc(len(records))
        policy, now = self.policies.current(), utc_now()
        results = [prepare(policy, record, now=now) for record in records]
        # A redelivery inside one batch is the same mention twice: keep the first.
        unique = {r.item.mention_id: r for r in reversed(results) if isinstance(r, Prepared)}
        prepared = list(reversed(unique.values()))
        dead = [r for r in results if isinstance(r, DeadLetter)]
        prepared = await self._threads(prepared, policy)
        stored, refused = await self._store(prepared)
        dead += [
            _dead(p.record, DeadLetterReason.STORE_ERROR, error, p.item.mention_id)
            for p, error in refused
        ]
        by_mention = {p.item.mention_id: p for p in prepared}
        # The queued events leave before clustering: they need only the stored items,
        # and clustering (a second transaction, under a lock all replicas share) writes
        # no events, so waiting for it would only hold every mention of the batch back.
        await self._relay([item.mention_id for item in stored])
        await self._cluster(stored, by_mention)
        now = utc_now()
        outgoing: list[tuple[str, str | None, bytes]] = []
        for item in stored:
            p = by_mention[item.mention_id]
            if item.created:
                metrics.QUEUED.labels(item.queue_id, p.item.urgency).inc()
                metrics.END_TO_END_SECONDS.observe(
                    max(0.0, (now - p.item.received_at).total_seconds())
                )
                log.info(
                    "mention queued",
                    extra=fields(
                        mention_id=item.mention_id,
                        queue=item.queue_id,
                        item_id=item.item_id,
                        urgency=p.item.urgency,
                        rule=p.item.rule,
                    ),
                )
            else:
                metrics.DUPLICATES.inc()
        for letter in dead:
            metrics.DEADLETTERED.labels(letter.reason).inc()
            log_dead_letter(log, letter)
            outgoing.append(
                (DEADLETTER.name(self.settings.topic_prefix), letter.mention_id, encode(letter))
            )
        await self._publish(outgoing)

    async def _threads(self, prepared: list[Prepared], policy: Policy) -> list[Prepared]:
        """Drop our own replies brought back (echoes), put citizens' answers to them in
        their items' threads, and return the rest: the mentions that become items."""
        if not prepared:
            return prepared
        mentions = [(p.item.mention_id, p.event.mention) for p in prepared]
        echoes, answering = await with_database(
            "sorting replies' threads", threads.sort_threads, self.engine, mentions
        )
        if answering:
            context = steps.StepContext(
                now=utc_now(), lease_seconds=self.settings.router_lease_seconds, policy=policy
            )
            joining = [
                (p.item.mention_id, p.event.mention, answering[p.item.mention_id])
                for p in prepared
                if p.item.mention_id in answering
            ]
            await with_database(
                "joining citizens' answers",
                threads.join_threads,
                self.engine,
                joining,
                context=context,
                received_at={p.item.mention_id: p.item.received_at for p in prepared},
            )
            for mention_id, _, reply in joining:
                log.info(
                    "citizen answered a reply",
                    extra=fields(mention_id=mention_id, item_id=reply.item_id, reply_id=reply.id),
                )
        for mention_id in echoes:
            metrics.ECHOES_DROPPED.inc()
            log.info("own reply echoed back; dropped", extra=fields(mention_id=mention_id))
        return [
            p
            for p in prepared
            if p.item.mention_id not in echoes and p.item.mention_id not in answering
        ]

    async def _cluster(
        self, stored: list[steps.StoredItem], by_mention: dict[str, Prepared]
    ) -> None:
        """Link the batch's items to incidents (those clustered before keep their link).

        A database that is down is retried, as for storing. Anything else that fails
        here (a refused row, a bug) is logged and the items stay unclustered: grouping
        is a help to officers, and must never stop mentions reaching the queues."""
        arrivals = [
            incidents.Arrival.of(item.item_id, by_mention[item.mention_id].event) for item in stored
        ]
        attempt = 0
        while True:
            try:
                linked = await asyncio.to_thread(
                    incidents.cluster_items,
                    self.engine,
                    arrivals=arrivals,
                    config=self.clustering,
                    now=utc_now(),
                )
                break
            except (DataError, IntegrityError) as exc:
                log.error(
                    "clustering a batch was refused; its items stay unclustered",
                    extra=fields(items=len(arrivals), error=db_error(exc)),
                )
                return
            except SQLAlchemyError as exc:
                metrics.RETRIES.labels(metrics.Failed.DATABASE).inc()
                delay = retry_delay(attempt)
                log.error(
                    "clustering incidents failed; retrying",
                    extra=fields(attempt=attempt + 1, error=db_error(exc), retry_in=delay),
                )
                attempt += 1
                await asyncio.sleep(delay)
            except Exception as exc:
                log.error(
                    "clustering a batch failed; its items stay unclustered",
                    extra=fields(items=len(arrivals), error=type(exc).__name__),
                )
                return
        for link in linked:
            log.info(
                "mention linked to an incident",
                extra=fields(
                    item_id=link.item_id,
                    incident_id=link.incident_id,
                    link=link.link,
                    reason=link.reason,
                    member_count=link.member_count,
                ),
            )

    def _observe_lag(self) -> None:
        # Lag = the partition's high-water mark minus the next offset this member will handle.
        assert self.consumer is not None
        for tp in self.consumer.assignment():
            highwater = self.consumer.highwater(tp)
            position = self._next_offsets.get(tp)
            if highwater is not None and position is not None:
                metrics.CONSUMER_LAG.labels(str(tp.partition)).set(max(0, highwater - position))

    async def _store(
        self, prepared: list[Prepared]
    ) -> tuple[list[steps.StoredItem], list[tuple[Prepared, str]]]:
        """Store what the database takes; return it and the records it refused, with why."""
        stored: list[steps.StoredItem] = []
        refused: list[tuple[Prepared, str]] = []
        pending = [prepared] if prepared else []
        while pending:
            chunk = pending.pop()
            try:
                stored += await self._save(chunk)
            except (DataError, IntegrityError) as exc:
                if len(chunk) == 1:
                    refused.append((chunk[0], db_error(exc)))
                    continue
                half = len(chunk) // 2
                pending += [chunk[half:], chunk[:half]]  # the first half is tried first
                log.warning(
                    "the database refused a batch's data; splitting it",
                    extra=fields(items=len(chunk), error=db_error(exc)),
                )
        return stored, refused

    async def _save(self, chunk: list[Prepared]) -> list[steps.StoredItem]:
        attempt = 0
        while True:
            try:
                return await asyncio.to_thread(
                    steps.save_items, self.engine, new_items=[p.item for p in chunk]
                )
            except (DataError, IntegrityError):
                raise
            except SQLAlchemyError as exc:
                # Retrying holds the partition: no offset moves past an unstored item.
                metrics.RETRIES.labels(metrics.Failed.DATABASE).inc()
                delay = retry_delay(attempt)
                log.error(
                    "storing a batch failed; retrying",
                    extra=fields(
                        items=len(chunk),
                        attempt=attempt + 1,
                        error=db_error(exc),
                        retry_in=delay,
                    ),
                )
                attempt += 1
                await asyncio.sleep(delay)

    async def _publish(self, outgoing: list[tuple[str, str | None, bytes]]) -> None:
        assert self.producer is not None
        await send_acknowledged(
            self.producer,
            [(topic, key.encode() if key else None, value) for topic, key, value in outgoing],
            ack_timeout_seconds=self.settings.kafka_ack_timeout_seconds,
            logger=log,
            failed="publishing dead letters failed; retrying",
            on_retry=metrics.RETRIES.labels(metrics.Failed.KAFKA).inc,
        )

    async def _relay(self, mention_ids: list[str]) -> None:
        # The queued events wait in the outbox: sending them now, before the offsets
        # move, keeps them as prompt as the mentions; if Kafka fails, the relay retries.
        # Only this batch's mentions' events: the relay task sends the others (the
        # clock's breaches and escalations, in thousands when SLAs expire together),
        # which would otherwise be sent first, in id order, while the batch waits.
        assert self.producer is not None
        if not mention_ids:
            return
        try:
            while await relay_batch(self.settings, self.engine, self.producer, keys=mention_ids):
                pass
        except SQLAlchemyError as exc:
            log.error("relaying the outbox failed", extra=fields(error=db_error(exc)))
