"""The send ledger: one row per (reply_id, attempt), so no reply is posted twice.

The row's state is written, and committed, before every request to a
platform (`SENDING`) and after every answer that proves nothing was posted
(`NOT_SENT`), and the final outcome is stored (`DONE`) before it is published
and before the offset moves. After a crash the row says what is safe:

- DONE: publish the stored outcome again, send nothing;
- SENDING: a request may have reached the platform; only a platform that
  dedupes by Idempotency-Key (Mastodon) may get it again, the others end
  `unknown`;
- NOT_SENT: nothing can have been posted; send.

SQLAlchemy Core, on PostgreSQL and on SQLite (the router's `make run`
database: the table is the responder's own, created by `create_schema`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    Column,
    DateTime,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from switchboard_shared.database import create_tables
from switchboard_shared.events import ReplyOutcome


class SendState(StrEnum):
    """Where one (reply_id, attempt) stands in the ledger."""

    NOT_SENT = "not_sent"
    SENDING = "sending"
    DONE = "done"


metadata = MetaData()

sends = Table(
    "responder_sends",
    metadata,
    Column("reply_id", String(128), primary_key=True),
    Column("attempt", Integer, primary_key=True, autoincrement=False),
    Column("mention_id", String(64), nullable=False),
    Column("channel", String(32), nullable=False),
    Column("state", String(16), nullable=False),
    Column("outcome", Text, nullable=True),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)


@dataclass(frozen=True)
class Entry:
    """One ledger row: the state and, once DONE, the outcome published."""

    state: SendState
    outcome: ReplyOutcome | None


def create_schema(engine: Engine) -> None:
    """Create the ledger table if missing (the router's migrations never touch them)."""
    create_tables(metadata, engine)


def _key(reply_id: str, attempt: int) -> Any:
    return (sends.c.reply_id == reply_id) & (sends.c.attempt == attempt)


def open_entry(
    engine: Engine, *, reply_id: str, attempt: int, mention_id: str, channel: str, now: datetime
) -> Entry:
    """The row of (reply_id, attempt), created NOT_SENT if this is its first sight."""
    dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
    with engine.begin() as connection:
        connection.execute(
            dialect.insert(sends)
            .values(
                reply_id=reply_id,
                attempt=attempt,
                mention_id=mention_id,
                channel=channel,
                state=SendState.NOT_SENT.value,
                started_at=now,
                updated_at=now,
            )
            .on_conflict_do_nothing()
        )
        row = connection.execute(
            select(sends.c.state, sends.c.outcome).where(_key(reply_id, attempt))
        ).one()
    outcome = ReplyOutcome.model_validate_json(row.outcome) if row.outcome else None
    return Entry(state=SendState(row.state), outcome=outcome)


def mark(engine: Engine, *, reply_id: str, attempt: int, state: SendState, now: datetime) -> None:
    """Set the row's state (SENDING before a request, NOT_SENT after proof nothing was posted)."""
    with engine.begin() as connection:
        connection.execute(
            update(sends)
            .where(_key(reply_id, attempt))
            .values(state=state.value, updated_at=now.astimezone(UTC))
        )


def finish(engine: Engine, *, outcome: ReplyOutcome, now: datetime) -> None:
    """Store the attempt's final outcome: from now on it is only ever published again."""
    with engine.begin() as connection:
        connection.execute(
            update(sends)
            .where(_key(outcome.reply_id, outcome.attempt))
            .values(state=SendState.DONE.value, outcome=outcome.model_dump_json(), updated_at=now)
        )
