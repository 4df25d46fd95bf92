"""The router's tables (SQLAlchemy Core). Alembic migrations create them."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    func,
)

metadata = MetaData()

# SQLite only auto-increments a column declared exactly INTEGER PRIMARY KEY.
ItemId = BigInteger().with_variant(Integer(), "sqlite")

queues = Table(
    "queues",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

items = Table(
    "items",
    metadata,
    Column("id", ItemId, primary_key=True, autoincrement=True),
    # One mention, one item: the unique key is what makes consuming idempotent.
    Column("mention_id", String(64), nullable=False, unique=True),
    Column("queue_id", String(64), ForeignKey("queues.id"), nullable=False),
    Column("status", String(16), nullable=False, server_default="open"),
    Column("urgency", String(16), nullable=False),
    Column("urgency_rank", SmallInteger, nullable=False),
    Column("score", Float, nullable=False),
    Column("topics", JSON, nullable=False),
    Column("reasons", JSON, nullable=False),
    Column("rule", String(128), nullable=False),
    Column("ruleset_version", String(64), nullable=False),
    Column("policy_version", String(64), nullable=False),
    Column("source", String(32), nullable=False),
    Column("source_id", String(256), nullable=False),
    Column("text", Text, nullable=False),
    Column("mention", JSON, nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("classified_at", DateTime(timezone=True), nullable=False),
    Column("queued_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# The queue view reads most urgent first, then oldest.
Index(
    "ix_items_queue_order", items.c.queue_id, items.c.urgency_rank, items.c.received_at, items.c.id
)
