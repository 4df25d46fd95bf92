"""The classifier's stream: a faust app built by a factory, never at import.

faust consumes `mentions.raw.v1` in batches and commits offsets of a batch
only after the batch is acknowledged downstream: the agent awaits Kafka's
acks for every classified or dead-lettered record before faust acks the
events (faust's `take_events` acks when the loop body returns). Output goes
through Switchboard's own idempotent producer rather than faust's (faust only
enables idempotence in its exactly-once mode, which has open duplicate bugs).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import faust
from aiokafka.errors import KafkaError

from switchboard_classifier import metrics
from switchboard_classifier.combine import Classifier
from switchboard_classifier.pipeline import SourceRecord, process_batch
from switchboard_classifier.reload import Reloader
from switchboard_classifier.settings import ClassifierSettings
from switchboard_classifier.shadow import compare
from switchboard_shared.events import DeadLetter, MentionClassified, utc_now
from switchboard_shared.kafka import encode, new_producer, send_acknowledged, tls_context
from switchboard_shared.logs import fields, log_dead_letter
from switchboard_shared.metrics import render
from switchboard_shared.metrics_server import METRICS_PATH, bearer_matches, unauthorised_problem
from switchboard_shared.problems import PROBLEM_CONTENT_TYPE
from switchboard_shared.settings import KafkaSettings
from switchboard_shared.topics import CLASSIFIED, DEADLETTER, RAW

log = logging.getLogger(__name__)


@dataclass
class ClassifierState:
    """What the agent and the health views share."""

    settings: ClassifierSettings
    reloader: Reloader
    shadow: Reloader | None = None  # a candidate model classified beside, never published
    producer: Any = None
    producer_started: bool = False
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


async def _send_batch(
    state: ClassifierState, outputs: Sequence[MentionClassified | DeadLetter]
) -> None:
    """Write a batch and wait until Kafka acknowledged every record; retry until it does."""
    prefix = state.settings.topic_prefix
    records = [
        (
            (DEADLETTER if isinstance(out, DeadLetter) else CLASSIFIED).name(prefix),
            out.mention_id.encode() if out.mention_id else None,
            encode(out),
        )
        for out in outputs
    ]
    # Holding the batch stops the stream: nothing past it is committed,
    # so waiting here is how Kafka trouble becomes backpressure, not loss.
    await send_acknowledged(
        state.producer,
        records,
        ack_timeout_seconds=state.settings.kafka_ack_timeout_seconds,
        logger=log,
        failed="writing a batch to Kafka failed; retrying",
        on_retry=metrics.PRODUCE_RETRIES.inc,
    )


def publish_versions(classifier: Classifier) -> None:
    """Show the versions in use on /metrics."""
    metrics.RULESET_INFO.clear()
    metrics.RULESET_INFO.labels(classifier.ruleset.version).set(1)
    metrics.MODEL_INFO.clear()
    metrics.MODEL_INFO.labels(classifier.model.version if classifier.model else "none").set(1)


def publish_shadow_version(shadow: Classifier) -> None:
    """Show the model in shadow on /metrics."""
    metrics.SHADOW_MODEL_INFO.clear()
    metrics.SHADOW_MODEL_INFO.labels(shadow.model.version if shadow.model else "none").set(1)


def shadow_batch(shadow: Classifier, outputs: Sequence[MentionClassified | DeadLetter]) -> None:
    """Classify the batch's mentions with the shadow and count how it differs from the live output."""
    published = [out for out in outputs if isinstance(out, MentionClassified)]
    if not published:
        return
    started = time.perf_counter()
    try:
        verdicts = shadow.classify_mentions([out.mention for out in published])
    except Exception as exc:  # the shadow must never cost the live stream a batch
        metrics.SHADOW_ERRORS.inc()
        log.warning(
            "the shadow model failed on a batch; the live output is unaffected",
            extra=fields(records=len(published), error=f"{type(exc).__name__}"),
        )
        return
    metrics.SHADOW_SECONDS.observe(time.perf_counter() - started)
    tally = compare([out.classification for out in published], verdicts)
    for urgency, count in tally.shadow_urgency.items():
        metrics.SHADOW_CLASSIFIED.labels(urgency.value).inc(count)
    for (live, candidate), count in tally.disagreements.items():
        metrics.SHADOW_DISAGREEMENTS.labels(live.value, candidate.value).inc(count)
    metrics.SHADOW_WOULD_BE_CRITICAL.inc(tally.would_be_critical)
    metrics.SHADOW_CRITICAL_DROPPED.inc(tally.critical_dropped)


def classify_batch(
    state: ClassifierState, records: Sequence[SourceRecord]
) -> list[MentionClassified | DeadLetter]:
    """Classify a batch of raw records and count what happened."""
    started = time.perf_counter()
    outputs = process_batch(state.reloader.current, records)
    elapsed = time.perf_counter() - started
    metrics.CLASSIFY_SECONDS.observe(elapsed)
    if records:
        metrics.MENTION_SECONDS.observe(elapsed / len(records))
    now = utc_now()
    for out in outputs:
        if isinstance(out, DeadLetter):
            metrics.DEADLETTERED.labels(out.reason).inc()
            log_dead_letter(log, out)
        else:
            metrics.CLASSIFIED.labels(out.classification.urgency.value).inc()
            for topic in out.classification.topics:
                metrics.TOPIC_TAGS.labels(topic).inc()
            for reason in out.classification.reasons:
                metrics.RULE_HITS.labels(reason.rule).inc()
            metrics.LAG_SECONDS.observe(max(0.0, (now - out.received_at).total_seconds()))
    if state.shadow is not None:
        shadow_batch(state.shadow.current, outputs)
    return outputs


async def maybe_reload(state: ClassifierState) -> None:
    """Swap in a new classifier if its files changed (the building runs off the loop)."""
    reloader = state.reloader
    failures = reloader.failures
    swapped = await asyncio.get_running_loop().run_in_executor(None, reloader.check)
    if swapped:
        metrics.RELOADS.labels(metrics.ReloadOutcome.SWAPPED).inc()
        publish_versions(reloader.current)
        metrics.initialise(reloader.current)  # topics the new rule set or model brings
    elif reloader.failures > failures:
        metrics.RELOADS.labels(metrics.ReloadOutcome.REFUSED).inc()
    shadow = state.shadow
    if shadow is None:
        return
    failures = shadow.failures
    # A shadow that fails to load (or to verify) is refused like a live one:
    # the last good shadow keeps running and the refusal is counted.
    if await asyncio.get_running_loop().run_in_executor(None, shadow.check):
        metrics.SHADOW_RELOADS.labels(metrics.ReloadOutcome.SWAPPED).inc()
        publish_shadow_version(shadow.current)
    elif shadow.failures > failures:
        metrics.SHADOW_RELOADS.labels(metrics.ReloadOutcome.REFUSED).inc()


def broker_credentials(settings: KafkaSettings) -> faust.types.auth.CredentialsT | None:
    """The Kafka security settings as faust's broker credentials (None: PLAINTEXT).

    faust hands these to every aiokafka client it makes (its consumer, its
    producer, which also creates topics) through `credentials_to_aiokafka_auth`;
    the TLS context is the one `switchboard_shared.kafka` builds for all clients.
    """
    protocol = settings.kafka_security_protocol
    context = tls_context(settings)
    if not protocol.uses_sasl:
        return faust.SSLCredentials(context) if context is not None else None
    assert settings.kafka_sasl_password is not None  # checked by KafkaSettings
    return faust.SASLCredentials(
        username=settings.kafka_sasl_username,
        password=settings.kafka_sasl_password.get_secret_value(),
        ssl_context=context,  # SASL_SSL with a context, SASL_PLAINTEXT without
        mechanism=settings.kafka_sasl_mechanism.value,
    )


# faust's own pages show the cluster's layout, partition assignments, table
# contents and sensor counters to whoever reaches the port: only /healthz,
# /readyz and /metrics (create_app's views) are served.
FAUST_PAGES_OFF: dict[str, Any] = {
    "web_router_enabled": False,
    "web_tables_enabled": False,
    "web_stats_enabled": False,
    "web_graph_enabled": False,
    "web_metrics_enabled": False,
}


def create_app(
    settings: ClassifierSettings, reloader: Reloader, shadow: Reloader | None = None
) -> tuple[faust.App, ClassifierState]:
    """Build the faust app, its agent and its health views (`shadow`: a candidate beside the live)."""
    state = ClassifierState(settings=settings, reloader=reloader, shadow=shadow)
    brokers = [
        f"kafka://{server.strip()}" for server in settings.kafka_bootstrap_servers.split(",")
    ]
    app = faust.App(
        settings.classifier_group_id,
        broker=brokers,
        broker_credentials=broker_credentials(settings),
        store="memory://",
        datadir=str(settings.classifier_data_dir / "{conf.id}"),  # one folder per app id
        autodiscover=False,
        web_enabled=True,
        web_bind=settings.classifier_host,
        web_port=settings.classifier_port,
        web_host=settings.classifier_host,
        **FAUST_PAGES_OFF,
        topic_replication_factor=settings.topic_replication_factor,
        topic_allow_declare=True,
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        broker_commit_interval=1.0,
        # faust waits 60 s by default before declaring a crashed worker gone;
        # its partitions sit idle all that time. Ten seconds, like aiokafka's
        # default, keeps a critical mention from waiting a minute after a crash.
        broker_session_timeout=10.0,
        broker_heartbeat_interval=3.0,
    )
    raw_topic = app.topic(
        RAW.name(settings.topic_prefix),
        key_serializer="raw",
        value_serializer="raw",
        partitions=RAW.partitions,
        internal=False,
    )
    publish_versions(reloader.current)
    metrics.initialise(reloader.current)
    if shadow is not None:
        publish_shadow_version(shadow.current)
        metrics.initialise_shadow()

    async def start_producer() -> None:
        async with state.lock:
            if not state.producer_started:
                state.producer = new_producer(
                    settings, client_id=f"{settings.classifier_group_id}-out"
                )
                await state.producer.start()
                state.producer_started = True

    @app.agent(
        raw_topic, concurrency=1
    )  # concurrency 1: faust can commit past in-flight events otherwise
    async def classify(stream: Any) -> AsyncIterator[None]:  # a faust.Stream
        await start_producer()
        async for events in stream.take_events(
            settings.classifier_batch_size, within=settings.classifier_batch_wait_seconds
        ):
            await maybe_reload(state)
            with metrics.BATCH_SECONDS.time():
                records = [
                    SourceRecord(
                        topic=event.message.topic,
                        partition=event.message.partition,
                        offset=event.message.offset,
                        value=event.message.value,
                    )
                    for event in events
                ]
                metrics.CONSUMED.inc(len(records))
                outputs = classify_batch(state, records)
                await _send_batch(state, outputs)
            yield None

    async def stop_producer(app: faust.App, **kwargs: Any) -> None:
        if state.producer_started:
            await state.producer.stop()
            state.producer_started = False

    app.on_before_shutdown.connect(cast(Any, stop_producer))

    @app.page("/healthz")
    async def healthz(web: Any, request: Any) -> Any:
        return web.json({"status": "ok", "service": "classifier"})

    @app.page("/readyz")
    async def readyz(web: Any, request: Any) -> Any:
        problems = []
        if not state.producer_started:
            problems.append("kafka producer not started")
        else:
            try:
                await asyncio.wait_for(state.producer.client.fetch_all_metadata(), 2.0)
            except (KafkaError, TimeoutError, OSError) as exc:
                problems.append(f"kafka unreachable: {exc!r}")
        if problems:
            return web.json({"status": "not ready", "problems": problems}, status=503)
        body: dict[str, Any] = {"status": "ready", "versions": state.reloader.current.versions}
        if state.shadow is not None:
            body["shadow_versions"] = state.shadow.current.versions
        return web.json(body)

    token = settings.classifier_metrics_token
    metrics_token = token.get_secret_value() if token else None
    if settings.classifier_metrics_port is None:  # else on its own port (see __main__)

        @app.page(METRICS_PATH)
        async def metrics_view(web: Any, request: Any) -> Any:
            if not bearer_matches(request.headers.get("Authorization"), metrics_token):
                status, body, headers = unauthorised_problem()
                return web.json(
                    body, status=status, headers=headers, content_type=PROBLEM_CONTENT_TYPE
                )
            output, content_type = render()
            return web.bytes(output, content_type=content_type.split(";")[0])

    return app, state
