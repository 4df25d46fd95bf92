"""The router's gauges read from the database: queue depths, oldest items, the outbox,
open incidents, and each queue's answered share of the last day with its target.

They used to be read at each scrape, so whoever could reach /metrics could
make the router query its database as often as they liked. Now a background
loop reads them every `SWITCHBOARD_ROUTER_METRICS_REFRESH_SECONDS` and a
scrape renders the last reading: the database sees the same few queries
whatever the number of scrapers. A queue the database knows (a new
district) still gets its counter series at zero at the next reading.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from switchboard_router import metrics
from switchboard_router.db.engine import aware
from switchboard_router.incidents import store as incidents
from switchboard_router.kafka import relay
from switchboard_router.queues import service as queues
from switchboard_router.replies import delivery, reports
from switchboard_router.routing.policy import Policy
from switchboard_shared.background import BackgroundLoop
from switchboard_shared.events import Urgency
from switchboard_shared.logs import fields

log = logging.getLogger(__name__)


def observe_database(engine: Engine, policy: Policy) -> None:
    """Set the queue and outbox gauges from the database (and each queue's series at zero)."""
    now = datetime.now(UTC)
    listed = queues.list_queues(engine)
    for q in listed:
        metrics.initialise_queue(q["queue_id"], policy)
        metrics.QUEUE_DEPTH.labels(q["queue_id"]).set(q["depth"])
        for urgency in Urgency:
            metrics.QUEUE_DEPTH_BY_URGENCY.labels(q["queue_id"], urgency).set(
                q["depth_by_urgency"].get(urgency, 0)
            )
        oldest = aware(q["oldest_received_at"])
        metrics.QUEUE_OLDEST_SECONDS.labels(q["queue_id"]).set(
            (now - oldest).total_seconds() if oldest else 0.0
        )
    metrics.OUTBOX_BACKLOG.set(relay.backlog(engine))
    metrics.INCIDENTS_OPEN.set(incidents.count_open(engine))
    metrics.REPLIES_UNREPORTED.set(delivery.unreported(engine, now=now))
    shares = reports.answered_shares(engine, policy=policy.replies, now=now)
    for q in listed:
        queue_id = q["queue_id"]
        target = policy.replies.target_for(queue_id)
        if target is not None:
            metrics.ANSWERED_TARGET.labels(queue_id).set(target)
        answerable, answered = shares.get(queue_id, (0, 0))
        metrics.ANSWERABLE.labels(queue_id).set(answerable)
        # No answerable mention, nothing missed: the share is then 1, not 0.
        metrics.ANSWERED_SHARE.labels(queue_id).set(answered / answerable if answerable else 1.0)


class GaugeRefresher(BackgroundLoop):
    """Reads the database gauges now and every `interval` seconds until stopped."""

    task_name = "router-gauges"

    def __init__(self, engine: Engine, *, policy: Callable[[], Policy], interval: float) -> None:
        self.engine = engine
        self.policy = policy
        self.interval = interval
        self.readings = 0  # completed readings, for tests and logs

    async def refresh(self) -> None:
        """One reading, in a thread; a database that does not answer keeps the last values."""
        try:
            await asyncio.to_thread(observe_database, self.engine, self.policy())
            self.readings += 1
        except SQLAlchemyError as exc:
            # /readyz reports the database; the gauges keep their last reading.
            log.warning(
                "reading the queue gauges failed; keeping the last values",
                extra=fields(error=repr(exc)[:300]),
            )

    async def _run(self) -> None:
        while True:
            await self.refresh()
            await asyncio.sleep(self.interval)
