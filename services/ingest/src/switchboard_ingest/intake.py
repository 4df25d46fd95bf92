"""The one path every mention takes into Switchboard, whatever door it came through.

HTTP intake, platform webhooks, pull connectors and replays all call
`Intake.submit` with a canonical mention, and `Intake.dead_letter` with what
they could not turn into one. Here duplicates are answered, writes are bounded
and counted, and nothing is called accepted before Kafka acknowledged it.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from enum import StrEnum

from switchboard_ingest import metrics
from switchboard_ingest.dedup import RawTopicTail, SeenMentions
from switchboard_ingest.doors import Refusal
from switchboard_ingest.publisher import Ack, KafkaUnavailable, Publisher
from switchboard_ingest.settings import IngestSettings
from switchboard_shared.deadletters import dead_letter
from switchboard_shared.events import MentionIn, MentionReceived
from switchboard_shared.logs import fields
from switchboard_shared.topics import DEADLETTER, RAW

log = logging.getLogger(__name__)

STAGE = "ingest"


class Outcome(StrEnum):
    """What became of a submitted mention."""

    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"


@dataclass(frozen=True)
class Result:
    """The answer to one submission."""

    mention_id: str
    outcome: Outcome
    ack: Ack | None = None


class Intake:
    """Submits canonical mentions to Kafka exactly once within the duplicate window."""

    def __init__(self, settings: IngestSettings) -> None:
        self.settings = settings
        self.publisher = Publisher(settings)
        self.seen = SeenMentions(
            window_seconds=settings.ingest_dedup_window_seconds,
            max_entries=settings.ingest_dedup_max_entries,
        )
        self.tail = RawTopicTail(settings, self.seen)
        self._pending: dict[str, asyncio.Future[Ack]] = {}
        self.raw_topic = RAW.name(settings.topic_prefix)
        self.deadletter_topic = DEADLETTER.name(settings.topic_prefix)

    def start(self) -> None:
        """Connect to Kafka and start remembering accepted mentions, in the background."""
        self.publisher.start()
        self.tail.start()

    async def stop(self) -> None:
        """Stop remembering and flush the producer."""
        await self.tail.stop()
        await self.publisher.stop()

    async def check(self) -> list[str]:
        """What keeps intake from being ready (empty when ready)."""
        problems = []
        trouble = await self.publisher.check()
        if trouble:
            problems.append(trouble)
        if not self.tail.caught_up.is_set():
            problems.append("duplicate memory still reading the raw topic")
        return problems

    async def submit(self, mention: MentionIn, *, via: str, agency: str | None = None) -> Result:
        """Accept a mention once Kafka has it, or say it is a duplicate; raise KafkaUnavailable.

        `agency` is the submitting API key's: it namespaces the ids of
        submitter-scoped sources (see `MentionIn.mention_id_from`).
        """
        mention_id = mention.mention_id_from(agency)
        source = mention.source.value
        if not self.tail.caught_up.is_set():
            metrics.UNAVAILABLE.labels(Refusal.DEDUP_WARMING_UP).inc()
            raise KafkaUnavailable(Refusal.DEDUP_WARMING_UP)
        if self.seen.contains(mention_id):
            return self._duplicate(mention_id, source, via)
        pending = self._pending.get(mention_id)
        if pending is not None:
            # This mention is being written right now (a retry racing its
            # original, or the original's ack was late and the producer still
            # holds it): wait for that write rather than writing a twin.
            try:
                await asyncio.wait_for(
                    asyncio.shield(pending), self.settings.kafka_ack_timeout_seconds
                )
            except TimeoutError as exc:
                metrics.UNAVAILABLE.labels(Refusal.PREVIOUS_WRITE_UNRESOLVED).inc()
                raise KafkaUnavailable(Refusal.PREVIOUS_WRITE_UNRESOLVED) from exc
            except KafkaUnavailable:
                pass  # the earlier write failed for good: write it now
            else:
                return self._duplicate(mention_id, source, via)
        # Until this write settles, a concurrent submit of the same mention waits on it.
        settled: asyncio.Future[Ack] = asyncio.get_running_loop().create_future()
        self._pending[mention_id] = settled
        settled.add_done_callback(lambda done: self._settled(mention_id, done))
        try:
            event = MentionReceived(mention_id=mention_id, mention=mention)
            ack = await self.publisher.publish(self.raw_topic, mention_id, event)
        except KafkaUnavailable as exc:
            metrics.UNAVAILABLE.labels(exc.cause).inc()
            log.warning(
                "mention refused: Kafka unavailable",
                extra=fields(mention_id=mention_id, source=source, via=via, cause=exc.cause),
            )
            if exc.delivery is None:
                settled.set_exception(exc)
            else:
                # The producer still holds the record and may yet land it.
                exc.delivery.add_done_callback(lambda late: _copy_outcome(late, settled))
            raise
        settled.set_result(ack)
        self.seen.add(mention_id)
        result = Result(mention_id=mention_id, outcome=Outcome.ACCEPTED, ack=ack)
        metrics.ACCEPTED.labels(source, via).inc()
        log.info(
            "mention accepted",
            extra=fields(
                mention_id=mention_id,
                source=source,
                via=via,
                partition=ack.partition,
                offset=ack.offset,
            ),
        )
        return result

    def _settled(self, mention_id: str, done: asyncio.Future[Ack]) -> None:
        if self._pending.get(mention_id) is done:
            del self._pending[mention_id]
        if done.cancelled() or done.exception() is not None:
            return
        if not self.seen.contains(mention_id):
            # An acknowledgement that came after we answered 503: the mention
            # is on the topic after all, so a retry must be a duplicate.
            log.info(
                "late acknowledgement: mention landed after a 503",
                extra=fields(mention_id=mention_id),
            )
        self.seen.add(mention_id)

    def _duplicate(self, mention_id: str, source: str, via: str) -> Result:
        metrics.DUPLICATES.labels(source, via).inc()
        log.info("duplicate mention", extra=fields(mention_id=mention_id, source=source, via=via))
        return Result(mention_id=mention_id, outcome=Outcome.DUPLICATE)

    async def dead_letter(
        self,
        *,
        source: str,
        via: str,
        reason: str,
        error: str,
        raw: bytes | str,
        mention_id: str | None = None,
    ) -> Ack:
        """Park a record that could not become a canonical mention; raise KafkaUnavailable."""
        text = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw
        letter = dead_letter(
            stage=f"{STAGE}.{via}", reason=reason, error=error, raw=text, mention_id=mention_id
        )
        ack = await self.publisher.publish(self.deadletter_topic, mention_id, letter)
        metrics.DEADLETTERED.labels(source, reason).inc()
        log.warning(
            "record dead-lettered",
            extra=fields(
                mention_id=mention_id, source=source, via=via, reason=reason, error=error[:300]
            ),
        )
        return ack


def _copy_outcome(source: asyncio.Future[Ack], target: asyncio.Future[Ack]) -> None:
    if target.done():
        return
    if source.cancelled():
        target.set_exception(KafkaUnavailable(Refusal.CANCELLED))
    elif (error := source.exception()) is not None:
        target.set_exception(error)
    else:
        target.set_result(source.result())
