"""The responder's reports in: `replies.outcomes.v1` -> the replies in the store.

Order per batch: apply the reports (one transaction) -> dead-letter what could
not be read -> commit offsets. A crash replays the batch, and replay changes
nothing: a report counts only for the attempt in flight and only moves a reply
forward (`replies.policy.outcome_applies`), so a report read twice, or late,
is ignored. A database that is down holds the partition and is retried with
back-off; no report is skipped.
"""

from __future__ import annotations

import logging
from typing import Any

from aiokafka import ConsumerRecord
from sqlalchemy import Engine

from switchboard_router import metrics
from switchboard_router.kafka.consumer import with_database
from switchboard_router.replies import delivery
from switchboard_router.settings import RouterSettings
from switchboard_shared.events import DeadLetter, ReplyOutcome, utc_now
from switchboard_shared.kafka import GroupMember, encode, read_record, send_acknowledged
from switchboard_shared.logs import fields, log_dead_letter
from switchboard_shared.outcome_logs import outcome_fields
from switchboard_shared.topics import DEADLETTER, REPLY_OUTCOMES

log = logging.getLogger(__name__)

STAGE = "router-replies"


def read_outcome(record: ConsumerRecord[Any, Any]) -> ReplyOutcome | DeadLetter:
    """The report a record holds, or the dead letter saying why it holds none."""
    return read_record(record, ReplyOutcome, stage=STAGE)


class OutcomeConsumer(GroupMember):
    """Applies the responder's reports to the replies until stopped."""

    task_name = "router-reply-outcomes"

    def __init__(self, settings: RouterSettings, engine: Engine) -> None:
        super().__init__()
        self.settings = settings
        self.engine = engine

    @property
    def group_id(self) -> str:
        """A group of its own: the classified-mention consumer's offsets are not these."""
        return f"{self.settings.router_group_id}-replies"

    async def _run(self) -> None:
        consumer = await self.join(
            self.settings,
            REPLY_OUTCOMES,
            group_id=self.group_id,
            client_id="switchboard-router-replies",
            logger=log,
            linger_ms=self.settings.router_kafka_linger_ms,
        )
        while True:
            batches = await consumer.getmany(
                timeout_ms=500, max_records=self.settings.router_batch_size
            )
            records = [record for batch in batches.values() for record in batch]
            if not records:
                continue
            await self.handle_batch(records)
            offsets = {tp: batch[-1].offset + 1 for tp, batch in batches.items() if batch}
            # Another member replays the batch; applying a report twice changes nothing.
            await self.commit(offsets, logger=log)

    async def handle_batch(self, records: list[ConsumerRecord[Any, Any]]) -> None:
        """Apply a batch of reports; return once they are stored and dead letters sent."""
        read = [read_outcome(record) for record in records]
        outcomes = [r for r in read if isinstance(r, ReplyOutcome)]
        dead = [r for r in read if isinstance(r, DeadLetter)]
        moved = (
            await with_database(
                "storing reply outcomes",
                delivery.apply_outcomes,
                self.engine,
                outcomes,
                now=utc_now(),
            )
            if outcomes
            else 0
        )
        for outcome in outcomes:
            log.info("reply outcome", extra=outcome_fields(outcome))
        if moved:
            log.debug("reply outcomes applied", extra=fields(moved=moved))
        if dead:
            assert self.producer is not None
            for letter in dead:
                metrics.DEADLETTERED.labels(letter.reason).inc()
                log_dead_letter(log, letter)
            await send_acknowledged(
                self.producer,
                [
                    (
                        DEADLETTER.name(self.settings.topic_prefix),
                        letter.mention_id.encode() if letter.mention_id else None,
                        encode(letter),
                    )
                    for letter in dead
                ],
                ack_timeout_seconds=self.settings.kafka_ack_timeout_seconds,
                logger=log,
                failed="publishing dead letters failed; retrying",
                on_retry=metrics.RETRIES.labels(metrics.Failed.KAFKA).inc,
            )
