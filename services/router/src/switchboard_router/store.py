"""The router's store: idempotent writes of queue items, and the reads the API serves.

Keyword-only functions over a SQLAlchemy engine (sync: called from a thread by
the consumer, from FastAPI's thread pool by the API). Works on PostgreSQL and
SQLite; the one dialect-specific piece is INSERT ... ON CONFLICT DO NOTHING.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, func, select, text, tuple_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url

from switchboard_router.models import items, queues


def make_engine(url: str) -> Engine:
    """An engine for `url`; SQLite gets WAL and a shared connection across threads."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest Alembic revision."""
    config = Config()
    config.set_main_option(
        "script_location", str(resources.files(__package__).joinpath("migrations"))
    )
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def ping(engine: Engine) -> None:
    """Raise if the database does not answer."""
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))


@dataclass(frozen=True)
class NewItem:
    """A queue item to store."""

    mention_id: str
    queue_id: str
    urgency: str
    urgency_rank: int
    score: float
    topics: list[str]
    reasons: list[dict[str, Any]]
    rule: str
    ruleset_version: str
    policy_version: str
    source: str
    source_id: str
    text: str
    mention: dict[str, Any]
    received_at: datetime
    classified_at: datetime


@dataclass(frozen=True)
class StoredItem:
    """An item as stored, and whether this call created it."""

    item_id: int
    mention_id: str
    queue_id: str
    created: bool


def _insert(engine: Engine, table: Any) -> Any:
    dialect = sqlite if engine.dialect.name == "sqlite" else postgresql
    return dialect.insert(table)


def save_items(engine: Engine, *, new_items: list[NewItem]) -> list[StoredItem]:
    """Store items in one transaction; a mention already stored is left as it is."""
    if not new_items:
        return []
    mention_ids = [item.mention_id for item in new_items]
    with engine.begin() as connection:
        before = set(
            connection.scalars(
                select(items.c.mention_id).where(items.c.mention_id.in_(mention_ids))
            )
        )
        queue_ids = sorted({item.queue_id for item in new_items})
        connection.execute(
            _insert(engine, queues).on_conflict_do_nothing(index_elements=["id"]),
            [{"id": q} for q in queue_ids],
        )
        connection.execute(
            _insert(engine, items).on_conflict_do_nothing(index_elements=["mention_id"]),
            [item.__dict__ for item in new_items],
        )
        rows = connection.execute(
            select(items.c.id, items.c.mention_id, items.c.queue_id).where(
                items.c.mention_id.in_(mention_ids)
            )
        ).all()
    return [
        StoredItem(
            item_id=row.id,
            mention_id=row.mention_id,
            queue_id=row.queue_id,
            created=row.mention_id not in before,
        )
        for row in rows
    ]


def list_queues(engine: Engine) -> list[dict[str, Any]]:
    """Every queue with its open depth and the age of its oldest open item."""
    open_items = (
        select(
            items.c.queue_id,
            func.count().label("depth"),
            func.min(items.c.received_at).label("oldest_received_at"),
            func.min(items.c.urgency_rank).label("top_rank"),
        )
        .where(items.c.status == "open")
        .group_by(items.c.queue_id)
        .subquery()
    )
    query = (
        select(
            queues.c.id, open_items.c.depth, open_items.c.oldest_received_at, open_items.c.top_rank
        )
        .select_from(queues.outerjoin(open_items, open_items.c.queue_id == queues.c.id))
        .order_by(queues.c.id)
    )
    with engine.connect() as connection:
        return [
            {
                "queue_id": row.id,
                "depth": row.depth or 0,
                "oldest_received_at": row.oldest_received_at,
                "top_urgency_rank": row.top_rank,
            }
            for row in connection.execute(query)
        ]


def queue_exists(engine: Engine, *, queue_id: str) -> bool:
    """True when the queue exists."""
    with engine.connect() as connection:
        return connection.scalar(select(queues.c.id).where(queues.c.id == queue_id)) is not None


def list_items(
    engine: Engine, *, queue_id: str, limit: int, after: tuple[int, datetime, int] | None
) -> list[dict[str, Any]]:
    """Items of a queue, most urgent first then oldest; `after` is the last row's sort key."""
    query = select(items).where(items.c.queue_id == queue_id)
    if after is not None:
        query = query.where(
            tuple_(items.c.urgency_rank, items.c.received_at, items.c.id) > tuple_(*after)
        )
    query = query.order_by(items.c.urgency_rank, items.c.received_at, items.c.id).limit(limit)
    with engine.connect() as connection:
        return [dict(row._mapping) for row in connection.execute(query)]


def count_items(engine: Engine) -> int:
    """How many items the store holds."""
    with engine.connect() as connection:
        return int(connection.scalar(select(func.count()).select_from(items)) or 0)
