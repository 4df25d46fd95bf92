"""The notifier's two loops.

- `EscalationConsumer` reads `mentions.escalated.v1`; each escalation is stored
  with the sends its wave plans (or as suppressed) in one transaction, and only
  then may its offset be committed: a replay finds its event id and stores nothing.
- `Scheduler` claims due sends from the database (rows, so they survive
  restarts and are shared by replicas), makes one try each, and stores how it
  ended: delivered, failed, unknown, or pending again after a back-off.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar

from aiokafka import ConsumerRecord
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from switchboard_notifier import metrics, store
from switchboard_notifier.answers import Attempt, Outcome, judge
from switchboard_notifier.channels import Sender, build_senders, notification_of
from switchboard_notifier.grouping import SuppressReason, item_group
from switchboard_notifier.holder import PolicyHolder
from switchboard_notifier.policy import ChannelKind
from switchboard_notifier.settings import NotifierSettings
from switchboard_shared.background import BackgroundLoop
from switchboard_shared.events import (
    DeadLetter,
    MentionEscalated,
    MentionRouted,
    RoutedAction,
    utc_now,
)
from switchboard_shared.kafka import (
    GroupMember,
    encode,
    read_record,
    retry_delay,
    send_acknowledged,
)
from switchboard_shared.logs import fields, log_dead_letter
from switchboard_shared.outbox import until_stored
from switchboard_shared.topics import ALL, DEADLETTER, ESCALATED, ROUTED

log = logging.getLogger(__name__)

STAGE = "notifier"
CLIENT_ID = "switchboard-notifier"
T = TypeVar("T")


def decode(record: ConsumerRecord[Any, Any]) -> MentionEscalated | DeadLetter:
    """The escalation a record carries, or the dead letter saying why it carries none."""
    return read_record(record, MentionEscalated, stage=STAGE)


async def durably(engine: Engine, write: Callable[..., T], **kwargs: Any) -> T:
    """A database write, retried until the database takes it: nothing is sent unrecorded."""
    return await until_stored(
        functools.partial(write, engine, **kwargs),
        logger=log,
        failed="the notifier's database failed; retrying",
        on_retry=metrics.RETRIES.labels(metrics.Failed.DATABASE).inc,
        log_fields={"write": write.__name__},
    )


class EscalationConsumer(GroupMember):
    """Stores every escalation and the sends it plans, then commits its offset."""

    task_name = "notifier-consumer"
    topic = ESCALATED

    def __init__(self, settings: NotifierSettings, engine: Engine, policy: PolicyHolder) -> None:
        super().__init__()
        self.settings = settings
        self.engine = engine
        self.policy = policy

    @property
    def group_id(self) -> str:
        """The consumer group this loop reads its topic in."""
        return self.settings.notifier_group_id

    async def _run(self) -> None:
        consumer = await self.join(
            self.settings,
            self.topic,
            group_id=self.group_id,
            client_id=CLIENT_ID,
            logger=log,
            create=ALL,
        )
        failures = 0
        while True:
            batches = await consumer.getmany(timeout_ms=500, max_records=200)
            for tp, records in batches.items():
                handled = None
                for record in records:
                    metrics.CONSUMED.inc()
                    try:
                        await self._handle(record)
                    except Exception:
                        # A bug must not skip an escalation: read it again after a wait,
                        # and commit only what came before it.
                        delay = retry_delay(failures)
                        failures += 1
                        log.exception(
                            "handling an escalation failed; it is read again",
                            extra=fields(
                                partition=record.partition, offset=record.offset, retry_in=delay
                            ),
                        )
                        consumer.seek(tp, record.offset)
                        await asyncio.sleep(delay)
                        break
                    failures = 0
                    handled = record.offset
                if handled is not None:
                    # A member that takes the partition over replays from the last commit;
                    # stored event ids make that change nothing.
                    await self.commit({tp: handled + 1}, logger=log)

    async def _handle(self, record: ConsumerRecord[Any, Any]) -> None:
        decoded = decode(record)
        if isinstance(decoded, DeadLetter):
            await self._dead_letter(decoded)
            return
        await self.escalated(decoded)

    async def _dead_letter(self, decoded: DeadLetter) -> None:
        """Send an unreadable record to the dead-letter topic with its reason."""
        metrics.DEADLETTERED.labels(decoded.reason).inc()
        log_dead_letter(log, decoded)
        assert self.producer is not None
        await send_acknowledged(
            self.producer,
            [
                (
                    DEADLETTER.name(self.settings.topic_prefix),
                    decoded.mention_id.encode() if decoded.mention_id else None,
                    encode(decoded),
                )
            ],
            ack_timeout_seconds=self.settings.kafka_ack_timeout_seconds,
            logger=log,
            failed="publishing a dead letter failed; retrying",
            on_retry=metrics.RETRIES.labels(metrics.Failed.KAFKA).inc,
        )

    async def escalated(self, event: MentionEscalated) -> store.Recorded:
        """Store one escalation (and its wave's sends), once."""
        recorded = await durably(
            self.engine,
            store.record_escalation,
            event=event,
            policy=self.policy.current(),
            now=utc_now(),
        )
        where = {
            "mention_id": event.mention_id,
            "item_id": event.item_id,
            "group": recorded.group,
            "queue": event.queue_id,
            "urgency": event.urgency.value,
            "tier": event.tier,
            "member_count": event.member_count,
        }
        if recorded.decision is None:
            log.info("escalation seen before; nothing new scheduled", extra=fields(**where))
        elif isinstance(recorded.decision, SuppressReason):
            metrics.SUPPRESSED.labels(recorded.decision).inc()
            log.info(
                "escalation suppressed",
                extra=fields(**where, reason=recorded.decision.value),
            )
        else:
            metrics.WAVES.inc()
            for channel, count in recorded.scheduled.items():
                metrics.SCHEDULED.labels(channel).inc(count)
            log.warning(
                "escalation pages its group",
                extra=fields(
                    **where,
                    wave=recorded.decision.label,
                    sends=sum(recorded.scheduled.values()),
                ),
            )
        return recorded


class Scheduler(BackgroundLoop):
    """Claims due sends, tries each once, stores how it ended."""

    task_name = "notifier-scheduler"

    def __init__(self, settings: NotifierSettings, engine: Engine, policy: PolicyHolder) -> None:
        self.settings = settings
        self.engine = engine
        self.policy = policy
        self.senders: dict[ChannelKind, Sender] = build_senders(settings, policy.current())
        self.passes = 0
        self._lease_seconds = settings.notifier_claim_lease_seconds
        self._since_reload = 0.0

    async def stop(self) -> None:
        """Stop claiming (tries in flight are cut off; their leases run out), close the clients."""
        await super().stop()
        for sender in self.senders.values():
            await sender.aclose()

    async def _run(self) -> None:
        interval = self.settings.notifier_scheduler_interval_seconds
        while True:
            await self._maybe_reload(interval)
            try:
                await self.run_once()
            except SQLAlchemyError as exc:
                metrics.RETRIES.labels(metrics.Failed.DATABASE).inc()
                log.error("claiming due sends failed", extra=fields(error=type(exc).__name__))
            except Exception:
                # A bug must not stop paging: sends it left claimed go again (or end unknown)
                # once their lease runs out, like a crashed scheduler's.
                log.exception("a scheduler pass failed; its claimed sends wait for their lease")
            self.passes += 1
            await asyncio.sleep(interval)

    async def _maybe_reload(self, interval: float) -> None:
        self._since_reload += interval
        if self._since_reload < self.settings.notifier_policy_reload_seconds:
            return
        self._since_reload = 0.0
        if await asyncio.to_thread(self.policy.maybe_reload):
            old, self.senders = self.senders, build_senders(self.settings, self.policy.current())
            for sender in old.values():
                await sender.aclose()

    async def run_once(self) -> int:
        """One pass: claim what is due and try it; the number tried."""
        claimed, unknown = await asyncio.to_thread(
            store.claim_due,
            self.engine,
            now=utc_now(),
            limit=self.settings.notifier_claim_batch,
            lease_seconds=self._lease_seconds,
        )
        for send in unknown:
            metrics.SENDS.labels(send.channel, Outcome.UNKNOWN).inc()
            log.error(
                "a send was in flight when the notifier stopped; not sent again (no idempotency)",
                extra=fields(key=send.dedupe_key, channel=send.channel.value, item_id=send.item_id),
            )
        await asyncio.gather(*(self._try(send) for send in claimed))
        return len(claimed)

    async def _try(self, send: store.Claimed) -> None:
        sender = self.senders.get(send.channel)
        where = {
            "key": send.dedupe_key,
            "channel": send.channel.value,
            "target": send.target,
            "item_id": send.item_id,
            "mention_id": send.mention_id,
            "attempt": send.attempts,
        }
        if send.resumed:
            log.warning(
                "sending again with the same idempotency key after a restart", extra=fields(**where)
            )
        if sender is None:
            attempt = Attempt(
                None, error=f"channel {send.channel.value} is not in the policy", connected=False
            )
            outcome = Outcome.FAILED
        else:
            notification = notification_of(send, self.settings.notifier_link_base_url)
            with metrics.SEND_SECONDS.labels(send.channel).time():
                attempt = await sender.send(notification, send.address)
            outcome = judge(
                send.channel,
                attempt,
                attempts_left=self.settings.notifier_max_attempts - send.attempts,
            )
        metrics.SENDS.labels(send.channel, outcome).inc()
        if outcome is Outcome.DELIVERED:
            metrics.CHANNEL_FAILING.labels(send.channel).set(0)
        else:
            metrics.CHANNEL_FAILING.labels(send.channel).inc()
        retry_at = None
        if outcome is Outcome.RETRY:
            delay = self.settings.notifier_retry_backoff_seconds * 2 ** (send.attempts - 1)
            retry_at = utc_now() + timedelta(seconds=delay)
        await durably(
            self.engine,
            store.finish,
            send_id=send.id,
            outcome=outcome,
            now=utc_now(),
            retry_at=retry_at,
            error=attempt.error,
        )
        level = logging.INFO if outcome is Outcome.DELIVERED else logging.WARNING
        log.log(
            level,
            f"send {outcome.value}",
            extra=fields(**where, status=attempt.status, error=attempt.error, retry_at=retry_at),
        )


# An officer on the item (acknowledged), or the item closed: its ladder has done its job.
ACKNOWLEDGING = frozenset({RoutedAction.ACKNOWLEDGED, RoutedAction.RESOLVED})


class AcknowledgementConsumer(EscalationConsumer):
    """Reads the router's item steps (`mentions.routed.v1`) in a group of its own: an item
    acknowledged or resolved cancels its group's pending sends, so the next step of the
    ladder (the email to the deputy after five minutes) is not sent to someone already
    on it. Every other step is read and passed over."""

    task_name = "notifier-acknowledgements"
    topic = ROUTED

    @property
    def group_id(self) -> str:
        return f"{self.settings.notifier_group_id}-acks"

    async def _handle(self, record: ConsumerRecord[Any, Any]) -> None:
        decoded = read_record(record, MentionRouted, stage=STAGE)
        if isinstance(decoded, DeadLetter):
            await self._dead_letter(decoded)
            return
        if decoded.action not in ACKNOWLEDGING:
            return
        group = item_group(decoded.item_id)
        cancelled = await durably(
            self.engine,
            store.acknowledge,
            group=group,
            by=decoded.actor or "router",
            at=decoded.at,
        )
        if cancelled:
            metrics.CANCELLED.inc(cancelled)
            log.info(
                "pending pages cancelled: the item is in hand",
                extra=fields(
                    item_id=decoded.item_id,
                    group=group,
                    action=decoded.action.value,
                    cancelled=cancelled,
                ),
            )
