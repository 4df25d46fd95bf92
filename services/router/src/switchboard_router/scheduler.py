"""The scheduler: every `SWITCHBOARD_ROUTER_CLOCK_SECONDS` one `tick` runs each
timed step on the items (`items/timers.py`), the hand-over of approved replies
(`replies/service.py`) and the retention purge (`audit/retention.py`), in a
thread, from database state alone.

Nothing is kept in memory between ticks, so a restarted router (or another
replica) carries on exactly where the last tick stopped.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from switchboard_router.audit.retention import Retention, purge
from switchboard_router.items.steps import StepContext
from switchboard_router.items.timers import (
    assign_backlog,
    climb_ladders,
    detect_breaches,
    expire_leases,
    locked,
)
from switchboard_router.replies.delivery import dispatch_due
from switchboard_router.routing.policy import Policy
from switchboard_shared.background import BackgroundLoop
from switchboard_shared.logs import fields

log = logging.getLogger(__name__)


def purge_aged(engine: Engine, context: StepContext, retention: Retention) -> int:
    """Redact and delete what outlived its retention window (a bounded batch)."""
    with engine.begin() as conn:
        if not locked(conn):
            return 0
        done = purge(conn, now=context.now, retention=retention)
    if any(done.values()):
        log.info("retention purge", extra=fields(**done))
    return done["redacted"] + done["deleted"] + done["access_audit"]


def tick(
    engine: Engine, context: StepContext, retention: Retention | None = None
) -> dict[str, int]:
    """One pass of every clock step (the purge when given windows); how much each did."""
    done = {
        "expired": expire_leases(engine, context),
        "breached": detect_breaches(engine, context),
        "escalated": climb_ladders(engine, context),
        "assigned": assign_backlog(engine, context),
        # Approved replies whose hold has passed go to the responder (through the outbox).
        "dispatched": dispatch_due(engine, now=context.now),
    }
    if retention is not None:
        done["purged"] = purge_aged(engine, context, retention)
    return done


class Scheduler(BackgroundLoop):
    """Runs `tick` every `interval` seconds in a thread until stopped."""

    task_name = "router-clock"

    def __init__(
        self,
        engine: Engine,
        *,
        policy: Callable[[], Policy],
        lease_seconds: float,
        interval: float,
        after_tick: Callable[[], None] = lambda: None,
        retention: Retention | None = None,
    ) -> None:
        self.engine = engine
        self.policy = policy
        self.lease_seconds = lease_seconds
        self.interval = interval
        self.after_tick = after_tick
        self.retention = retention

    async def _run(self) -> None:
        while True:
            context = StepContext(
                now=datetime.now(UTC), lease_seconds=self.lease_seconds, policy=self.policy()
            )
            try:
                done = await asyncio.to_thread(tick, self.engine, context, self.retention)
                if any(done.values()):
                    self.after_tick()
            except SQLAlchemyError as exc:
                log.error(
                    "clock tick failed; retrying next tick", extra=fields(error=repr(exc)[:300])
                )
            await asyncio.sleep(self.interval)
