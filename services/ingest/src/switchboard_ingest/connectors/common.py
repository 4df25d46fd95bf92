"""What every pull connector shares: HTML to text, back-off, Retry-After, its base class (failures, lag), and submitting without skipping.

A connector never drops an item because Kafka was unavailable: it waits and
retries the same item until intake has answered for it. An item it cannot map
is dead-lettered with a reason that names the field, never its value: the
reason is logged, and values are mention text and authors.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from html.parser import HTMLParser

import httpx
from pydantic import ValidationError

from switchboard_ingest import metrics
from switchboard_ingest.connectors.cursor import CursorStore
from switchboard_ingest.connectors.egress import EgressPolicy, EgressRefused, egress_client
from switchboard_ingest.doors import Door
from switchboard_ingest.intake import Intake, Result
from switchboard_ingest.platforms import MappingError
from switchboard_ingest.publisher import KafkaUnavailable
from switchboard_shared.events import MAX_TEXT_CHARS, DeadLetterReason, MentionIn, Source
from switchboard_shared.logs import describe_invalid, fields
from switchboard_shared.ratelimit import Limit, RateLimiter

log = logging.getLogger(__name__)


class PeerError(Exception):
    """The platform answered a connector with something other than what its protocol promises.

    `retry_after` is what the answer asked the connector to wait (seconds), if anything.
    """

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


# Exceptions a pure mapping raises on input it cannot turn into a mention
# (pydantic's ValidationError is a ValueError).
MAPPING_ERRORS = (ValueError, TypeError, KeyError, AttributeError)


def describe_unmappable(exc: BaseException) -> str:
    """Why an item could not be mapped, fit for a log line: the field and the rule, never the value."""
    if isinstance(exc, ValidationError):
        return f"invalid mention: {describe_invalid(exc)}"
    if isinstance(exc, MappingError):
        return str(exc)  # names the field, never its value
    if isinstance(exc, json.JSONDecodeError):
        return f"not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
    if isinstance(exc, KeyError) and exc.args and isinstance(exc.args[0], str):
        return f"{exc.args[0]}: missing"  # the key is one the mapping asked for
    # Other messages may quote the input (int("555 0134") does): the type must do.
    return f"{type(exc).__name__} while mapping the item"


_BLOCK_TAGS = frozenset(
    [
        "address",
        "article",
        "aside",
        "blockquote",
        "br",
        "dd",
        "div",
        "dl",
        "dt",
        "figcaption",
        "figure",
        "footer",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "header",
        "hr",
        "li",
        "main",
        "nav",
        "ol",
        "p",
        "pre",
        "section",
        "table",
        "td",
        "th",
        "tr",
        "ul",
    ]
)
_INVISIBLE_TAGS = frozenset({"script", "style", "template", "noscript"})


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._hidden_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _INVISIBLE_TAGS:
            self._hidden_depth += 1
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _INVISIBLE_TAGS:
            self._hidden_depth = max(0, self._hidden_depth - 1)
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._hidden_depth:
            self.parts.append(data)


def strip_html(html: str) -> str:
    """The readable text of an HTML fragment: tags dropped, entities decoded, whitespace tidied."""
    parser = _TextExtractor()
    parser.feed(html)
    parser.close()
    lines = (" ".join(line.split()) for line in "".join(parser.parts).split("\n"))
    return "\n".join(line for line in lines if line)


def bound_text(text: str, limit: int = MAX_TEXT_CHARS) -> str:
    """`text` cut to at most `limit` characters, marked with an ellipsis when cut."""
    text = text.strip()
    if len(text) <= limit:
        return text
    return text[: limit - 1].rstrip() + "…"


def bound_or_none(value: str | None, limit: int) -> str | None:
    """`value` cut to `limit` characters; None when empty."""
    if not value:
        return None
    value = value.strip()
    return value[:limit] or None


def as_utc(moment: datetime) -> datetime:
    """`moment` as an aware UTC datetime (a naive one is taken to be UTC already)."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


class Backoff:
    """Exponentially growing delays, capped, with jitter so replicas do not retry in step."""

    def __init__(self, initial: float, cap: float) -> None:
        self.initial = initial
        self.cap = max(cap, initial)
        self._next = initial

    def next_delay(self) -> float:
        """The delay before the next attempt; each call doubles the one after, up to the cap."""
        delay = self._next
        self._next = min(self._next * 2, self.cap)
        return delay * random.uniform(0.8, 1.0)

    def reset(self) -> None:
        """Start again from the initial delay (after a success)."""
        self._next = self.initial


class Pace:
    """A connector's own rate limit: items wait for a token, never are dropped.

    A pulled feed cannot be answered 429, so the connector holds the next item
    back instead; the cursor does not move past it until it is submitted.
    """

    def __init__(
        self,
        limit: Limit,
        *,
        connector: str,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._limiter = RateLimiter(limit, clock=clock, max_keys=1)
        self._connector = connector
        self._sleep = sleep

    async def wait(self) -> None:
        """Return once one more item may be submitted."""
        while not (decision := self._limiter.take(self._connector)).allowed:
            metrics.CONNECTOR_THROTTLED.labels(self._connector).inc()
            await self._sleep(decision.wait_seconds)


async def submit_until_answered(
    intake: Intake,
    mention: MentionIn,
    *,
    via: str,
    connector: str,
    backoff: Backoff,
    pace: Pace | None = None,
) -> Result:
    """Submit `mention` (after its pace allows), retrying it while Kafka is unavailable."""
    if pace is not None:
        await pace.wait()
    while True:
        try:
            result = await intake.submit(mention, via=via)
        except KafkaUnavailable as exc:
            delay = backoff.next_delay()
            log.warning(
                "connector waits for Kafka before retrying the same mention",
                extra=fields(
                    connector=connector,
                    mention_id=mention.mention_id,
                    cause=exc.cause,
                    retry_in=round(delay, 2),
                ),
            )
            await asyncio.sleep(delay)
            continue
        backoff.reset()
        return result


async def dead_letter_until_taken(
    intake: Intake,
    *,
    source: str,
    via: str,
    connector: str,
    error: str,
    raw: str,
    backoff: Backoff,
) -> None:
    """Park an item that cannot become a mention, retrying while Kafka is unavailable."""
    while True:
        try:
            await intake.dead_letter(
                source=source, via=via, reason=DeadLetterReason.NORMALISATION, error=error, raw=raw
            )
        except KafkaUnavailable as exc:
            delay = backoff.next_delay()
            log.warning(
                "connector waits for Kafka before dead-lettering",
                extra=fields(connector=connector, cause=exc.cause, retry_in=round(delay, 2)),
            )
            await asyncio.sleep(delay)
            continue
        backoff.reset()
        return


def utc_now() -> datetime:
    """The current time, aware in UTC."""
    return datetime.now(UTC)


def retry_after_seconds(value: str | None) -> float | None:
    """Seconds a Retry-After header asks for (delta or HTTP date); None when absent or bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - utc_now()).total_seconds())


class PullConnector:
    """What the pull connectors hold and do alike: their client, pace, Kafka back-off and writes.

    A subclass names its door (`via`), its source and its User-Agent, and
    owns its protocol and cursor; every item it reads goes through `_submit`
    or `_dead_letter`, which wait for Kafka rather than skip.
    """

    via: Door
    source: Source
    user_agent: str

    def __init__(
        self,
        name: str,
        intake: Intake,
        store: CursorStore,
        policy: EgressPolicy | None,
        http: httpx.AsyncClient | None,
        kafka_backoff: Backoff | None,
        pace: Limit | None,
    ) -> None:
        self.name = name
        self._pace = Pace(pace, connector=name) if pace is not None else None
        self.intake = intake
        self.store = store
        self.policy = policy or EgressPolicy()
        self._http = http
        self._kafka_backoff = kafka_backoff or Backoff(0.5, 30.0)
        self._newest_accepted: datetime | None = None

    @contextlib.asynccontextmanager
    async def _client(self) -> AsyncIterator[httpx.AsyncClient]:
        """The client given at construction, else a vetted egress client for this connector."""
        if self._http is not None:
            yield self._http
            return
        async with egress_client(
            self.policy, user_agent=self.user_agent, timeout=httpx.Timeout(30.0)
        ) as http:
            yield http

    def _count_failure(self, exc: Exception) -> None:
        """Count a failed poll or connection (and a refused fetch by its reason)."""
        metrics.CONNECTOR_ERRORS.labels(self.name).inc()
        if isinstance(exc, EgressRefused):
            metrics.CONNECTOR_REFUSED.labels(self.name, exc.reason).inc()

    @staticmethod
    def _asked_delay(exc: Exception) -> float:
        """The seconds a failed answer asked to wait before the next try (0 when it asked none)."""
        return (exc.retry_after if isinstance(exc, PeerError) else None) or 0.0

    @staticmethod
    def _is_expected_failure(exc: Exception) -> bool:
        """Whether `exc` is a failure of the network or the platform, logged without a traceback."""
        return isinstance(exc, (httpx.HTTPError, PeerError, EgressRefused))

    def _mark_success(self) -> None:
        """Record that the platform has just answered as its protocol promises."""
        metrics.CONNECTOR_LAST_SUCCESS.labels(self.name).set(time.time())

    def _note_accepted(self, created_at: datetime) -> None:
        """Take an accepted mention's time into the lag (the newest accepted so far counts)."""
        if self._newest_accepted is None or created_at > self._newest_accepted:
            self._newest_accepted = created_at
        self._report_lag()

    def _report_lag(self) -> None:
        """Set the lag gauge: how long ago the newest accepted mention was posted."""
        if self._newest_accepted is not None:
            lag = (utc_now() - self._newest_accepted).total_seconds()
            metrics.CONNECTOR_LAG_SECONDS.labels(self.name).set(max(0.0, lag))

    async def _submit(self, mention: MentionIn) -> Result:
        """Submit `mention` at this connector's pace, waiting out Kafka's absence."""
        return await submit_until_answered(
            self.intake,
            mention,
            via=self.via,
            connector=self.name,
            backoff=self._kafka_backoff,
            pace=self._pace,
        )

    async def _dead_letter(self, exc: BaseException, raw: str) -> None:
        """Park an item that could not be mapped, with why (never its values)."""
        await dead_letter_until_taken(
            self.intake,
            source=self.source.value,
            via=self.via,
            connector=self.name,
            error=describe_unmappable(exc),
            raw=raw,
            backoff=self._kafka_backoff,
        )
