"""The responder's Kafka loop: replies.v1 in, posts on the platforms, outcomes out.

For each request (one `ReplyRequested` per attempt), in this order:

1. the ledger row of (reply_id, attempt) is opened; if it is DONE its stored
   outcome is published again and nothing is sent; if a send was in flight
   when a responder died, X and Meta get `unknown` (never re-sent), Mastodon
   gets the same Idempotency-Key again;
2. before each request the row is marked SENDING (committed), then the
   request is made and `answers.judge` decides: a final outcome is stored,
   then published (Kafka acked), and only then may the offset pass it.
   A rate limit publishes a `sending` outcome with `retry_at` and waits; a
   refused credential makes the whole channel wait.

Requests are handled concurrently (up to `responder_max_in_flight`), so one
channel waiting for its rate limit or its credentials never holds the
others; each partition's offset is committed up to its oldest unfinished
record. A record that is not a ReplyRequested goes to the dead-letter topic
and the stream goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections import OrderedDict
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar

from aiokafka import ConsumerRecord, TopicPartition
from sqlalchemy import Engine

from switchboard_responder import ledger, metrics
from switchboard_responder.answers import Decision, Verdict, judge, over_the_limit
from switchboard_responder.channels import Channel
from switchboard_responder.ledger import SendState
from switchboard_responder.settings import ResponderSettings
from switchboard_shared.background import BackgroundLoop, cancel_and_wait
from switchboard_shared.events import (
    DeadLetter,
    ReplyOutcome,
    ReplyRequested,
    ReplyStatus,
    Source,
    utc_now,
)
from switchboard_shared.kafka import (
    GroupMember,
    encode,
    read_record,
    send_acknowledged,
)
from switchboard_shared.logs import fields, log_dead_letter
from switchboard_shared.outbox import until_stored
from switchboard_shared.topics import ALL, DEADLETTER, REPLIES, REPLY_OUTCOMES

log = logging.getLogger(__name__)

STAGE = "responder"
CLIENT_ID = "switchboard-responder"
# Beyond a request's own timeout, how long a stop waits for its outcome to be stored and published.
STOP_GRACE_SECONDS = 5.0
T = TypeVar("T")
Key = tuple[str, int]


def decode(record: ConsumerRecord[Any, Any]) -> ReplyRequested | DeadLetter:
    """The request a record carries, or the dead letter saying why it carries none."""
    return read_record(record, ReplyRequested, stage=STAGE)


def outcome_of(
    request: ReplyRequested,
    channel: str,
    status: ReplyStatus,
    *,
    decision: Decision | None = None,
    error: str | None = None,
) -> ReplyOutcome:
    """The outcome event of one attempt."""
    return ReplyOutcome(
        reply_id=request.reply_id,
        mention_id=request.mention_id,
        item_id=request.item_id,
        attempt=request.attempt,
        status=status,  # type: ignore[arg-type]  # the statuses judge gives are the outcome's
        channel=channel,
        platform_post_id=decision.platform_post_id if decision else None,
        http_status=decision.http_status if decision else None,
        error=error if error is not None else (decision.error if decision else None),
        retry_at=decision.retry_at if decision else None,
    )


class _Offsets:
    """Per partition, the offsets read and whether each is finished; commits the finished prefix."""

    def __init__(self) -> None:
        self._by_partition: dict[TopicPartition, OrderedDict[int, bool]] = {}

    def read(self, tp: TopicPartition, offset: int) -> None:
        self._by_partition.setdefault(tp, OrderedDict())[offset] = False

    def finished(self, tp: TopicPartition, offset: int) -> None:
        pending = self._by_partition.get(tp)
        if pending is not None and offset in pending:
            pending[offset] = True

    def committable(self) -> dict[TopicPartition, int]:
        """The next offset to commit for each partition whose oldest records are finished."""
        out: dict[TopicPartition, int] = {}
        for tp, pending in self._by_partition.items():
            last = None
            while pending:
                offset, done = next(iter(pending.items()))
                if not done:
                    break
                pending.popitem(last=False)
                last = offset
            if last is not None:
                out[tp] = last + 1
        return out

    def keep_only(self, assigned: set[TopicPartition]) -> None:
        """Drop partitions this member no longer owns (their new owner replays them)."""
        for tp in set(self._by_partition) - assigned:
            del self._by_partition[tp]


class Responder(GroupMember):
    """Consumes reply requests and answers each with an outcome until stopped."""

    task_name = "responder-consumer"

    def __init__(
        self, settings: ResponderSettings, engine: Engine, channels: dict[Source, Channel]
    ) -> None:
        super().__init__()
        self.settings = settings
        self.engine = engine
        self.channels = channels
        self._offsets = _Offsets()
        self._tasks: set[asyncio.Task[None]] = set()
        self._locks: dict[Key, asyncio.Lock] = {}
        self._outcomes_topic = REPLY_OUTCOMES.name(settings.topic_prefix)

    async def stop(self) -> None:
        """Stop reading; let sends in flight finish (bounded), commit, then close the clients.

        A send cut off mid-request would end `unknown` on X and Meta at the next
        start, so a graceful stop gives requests their timeout to answer first.
        Sends still waiting after that (for a rate limit or credentials) are
        cancelled: the ledger shows nothing of theirs went out.
        """
        await BackgroundLoop.stop(self)  # the loop alone first: the clients are still needed
        if self._tasks:
            grace = self.settings.responder_request_timeout_seconds + STOP_GRACE_SECONDS
            await asyncio.wait(set(self._tasks), timeout=grace)
        for task in list(self._tasks):
            with contextlib.suppress(Exception):
                await cancel_and_wait(task)
        if self.consumer is not None and self.started.is_set():
            await self._commit(self._offsets.committable())
        for channel in self.channels.values():
            await channel.sender.aclose()
        await self.stop_clients()

    async def _run(self) -> None:
        await self.join(
            self.settings,
            REPLIES,
            group_id=self.settings.responder_group_id,
            client_id=CLIENT_ID,
            logger=log,
            create=ALL,
        )
        assert self.consumer is not None
        while True:
            self._hold_back_when_full()
            room = max(1, self.settings.responder_max_in_flight - len(self._tasks))
            batches = await self.consumer.getmany(timeout_ms=200, max_records=room)
            self._offsets.keep_only(self.consumer.assignment())
            for tp, records in batches.items():
                for record in records:
                    metrics.CONSUMED.inc()
                    self._offsets.read(tp, record.offset)
                    task = asyncio.create_task(self._handle(tp, record))
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)
            metrics.IN_FLIGHT.set(len(self._tasks))
            await self._commit(self._offsets.committable())

    def _hold_back_when_full(self) -> None:
        # Pausing (not skipping getmany) keeps the member polling, so it stays in the group;
        # the whole assignment each time, so partitions a rebalance brings are held too.
        assert self.consumer is not None
        assignment = self.consumer.assignment()
        if len(self._tasks) >= self.settings.responder_max_in_flight:
            self.consumer.pause(*assignment)
        else:
            self.consumer.resume(*assignment)

    async def _commit(self, offsets: dict[TopicPartition, int]) -> None:
        # A member that takes these partitions over replays from the last commit; the
        # ledger makes the replay send nothing twice.
        await self.commit(offsets, logger=log)

    async def _handle(self, tp: TopicPartition, record: ConsumerRecord[Any, Any]) -> None:
        try:
            decoded = decode(record)
            if isinstance(decoded, DeadLetter):
                metrics.DEADLETTERED.labels(decoded.reason).inc()
                log_dead_letter(log, decoded)
                topic = DEADLETTER.name(self.settings.topic_prefix)
                key = decoded.mention_id.encode() if decoded.mention_id else None
                await self._publish(topic, key, encode(decoded))
            else:
                await self.answer(decoded)
            self._offsets.finished(tp, record.offset)
        except asyncio.CancelledError:
            raise
        except Exception:
            # A bug must not finish the record: its offset stays, and a restart replays it.
            log.exception(
                "handling a reply request failed; it stays uncommitted",
                extra=fields(partition=record.partition, offset=record.offset),
            )

    async def answer(self, request: ReplyRequested) -> None:
        """Send one request at most once and publish its outcome (serialised per attempt)."""
        key = (request.reply_id, request.attempt)
        lock = self._locks.setdefault(key, asyncio.Lock())
        try:
            async with lock:
                await self._answer(request)
        finally:
            if not lock.locked() and self._locks.get(key) is lock:
                del self._locks[key]

    async def _answer(self, request: ReplyRequested) -> None:
        channel = self.channels.get(request.source)
        name = channel.name if channel is not None else metrics.NO_CHANNEL
        entry = await self._durably(
            ledger.open_entry,
            reply_id=request.reply_id,
            attempt=request.attempt,
            mention_id=request.mention_id,
            channel=name,
            now=utc_now(),
        )
        if entry.state is SendState.DONE and entry.outcome is not None:
            metrics.REPLAYED.labels(name).inc()
            self._log_outcome("outcome published again; nothing sent", entry.outcome)
            await self._publish_outcome(entry.outcome)
            return
        if channel is None:
            outcome = outcome_of(
                request,
                name,
                ReplyStatus.FAILED_PERMANENT,
                error=f"no channel configured for source {request.source.value} "
                "(SWITCHBOARD_RESPONDER_CHANNELS)",
            )
        elif entry.state is SendState.SENDING and not channel.platform.deduplicates:
            metrics.REPLAYED.labels(name).inc()
            outcome = outcome_of(
                request,
                name,
                ReplyStatus.UNKNOWN,
                error="a send was in flight when the responder stopped; the post may exist "
                f"and {channel.platform.value} has no idempotency key, so it is not re-sent",
            )
        elif (refused := over_the_limit(request.text, channel.max_chars)) is not None:
            outcome = outcome_of(request, name, refused.verdict.status, decision=refused)
        else:
            decision = await self._send(channel, request, resumed=entry.state is SendState.SENDING)
            outcome = outcome_of(request, name, decision.verdict.status, decision=decision)
        await self._durably(ledger.finish, outcome=outcome, now=utc_now())
        self._log_outcome("reply attempt finished", outcome)
        await self._publish_outcome(outcome)

    async def _send(self, channel: Channel, request: ReplyRequested, *, resumed: bool) -> Decision:
        """Send until an answer is final: waits for the channel, resends when that is safe."""
        settings = self.settings
        where = {
            "reply_id": request.reply_id,
            "mention_id": request.mention_id,
            "channel": channel.name,
            "attempt": request.attempt,
        }
        if resumed:
            log.warning(
                "resending with the same idempotency key after a restart", extra=fields(**where)
            )
        retries = 0
        while True:
            probe = await channel.turn()
            await self._mark(request, SendState.SENDING)
            with metrics.SEND_SECONDS.labels(channel.name).time():
                result = await channel.sender.send(
                    reply_id=request.reply_id, in_reply_to=request.in_reply_to, text=request.text
                )
            decision = judge(
                channel.platform,
                result,
                now=utc_now(),
                retries_left=settings.responder_max_retries - retries,
                rate_limit_wait=timedelta(seconds=settings.responder_rate_limit_wait_seconds),
                redact=(request.text,),
            )
            metrics.PLATFORM_ANSWERS.labels(channel.name, decision.verdict).inc()
            if decision.http_status is not None:
                channel.answered(decision, probe=probe)
            else:
                channel.released(probe=probe)
            if decision.verdict.final:
                return decision
            if not decision.maybe_posted:
                await self._mark(request, SendState.NOT_SENT)
            if decision.verdict is Verdict.RATE_LIMITED:
                log.warning(
                    "rate limited; the reply waits for the reset",
                    extra=fields(
                        **where, http_status=decision.http_status, retry_at=decision.retry_at
                    ),
                )
                await self._publish_outcome(
                    outcome_of(request, channel.name, ReplyStatus.SENDING, decision=decision)
                )
            elif decision.verdict is Verdict.AUTH_ERROR:
                log.warning(
                    "credentials refused; the reply waits for the channel",
                    extra=fields(**where, http_status=decision.http_status),
                )
            else:
                delay = settings.responder_retry_backoff_seconds * 2**retries
                retries += 1
                log.warning(
                    "send failed; resending",
                    extra=fields(
                        **where,
                        http_status=decision.http_status,
                        error=decision.error,
                        retry=retries,
                        retry_in=delay,
                    ),
                )
                await asyncio.sleep(delay)

    async def _mark(self, request: ReplyRequested, state: SendState) -> None:
        """Store where the request's attempt stands before (SENDING) or after (NOT_SENT) a try."""
        await self._durably(
            ledger.mark,
            reply_id=request.reply_id,
            attempt=request.attempt,
            state=state,
            now=utc_now(),
        )

    async def _durably(self, write: Callable[..., T], **kwargs: Any) -> T:
        """A ledger write, retried until the database takes it: nothing is sent unrecorded."""
        return await until_stored(
            functools.partial(write, self.engine, **kwargs),
            logger=log,
            failed="the send ledger failed; retrying",
            on_retry=metrics.RETRIES.labels(metrics.Failed.DATABASE).inc,
            log_fields={"reply_id": kwargs.get("reply_id")},
        )

    async def _publish_outcome(self, outcome: ReplyOutcome) -> None:
        await self._publish(self._outcomes_topic, outcome.mention_id.encode(), encode(outcome))
        metrics.OUTCOMES.labels(outcome.channel, outcome.status).inc()

    async def _publish(self, topic: str, key: bytes | None, value: bytes) -> None:
        assert self.producer is not None
        await send_acknowledged(
            self.producer,
            [(topic, key, value)],
            ack_timeout_seconds=self.settings.kafka_ack_timeout_seconds,
            logger=log,
            failed="publishing failed; retrying",
            on_retry=metrics.RETRIES.labels(metrics.Failed.KAFKA).inc,
        )

    @staticmethod
    def _log_outcome(message: str, outcome: ReplyOutcome) -> None:
        level = logging.INFO if outcome.status is ReplyStatus.SENT else logging.WARNING
        log.log(
            level,
            message,
            extra=fields(
                reply_id=outcome.reply_id,
                mention_id=outcome.mention_id,
                channel=outcome.channel,
                attempt=outcome.attempt,
                status=outcome.status.value,
                http_status=outcome.http_status,
                platform_post_id=outcome.platform_post_id,
                error=outcome.error,
            ),
        )
