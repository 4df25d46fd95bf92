"""The engine, the migrations and the few dialect differences, in one place.

Works on PostgreSQL and SQLite; the dialect-specific pieces are
INSERT ... ON CONFLICT DO NOTHING and SQLite's naive datetimes.
"""

from __future__ import annotations

from datetime import UTC, datetime
from importlib import resources
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine
from sqlalchemy.dialects import postgresql, sqlite

from switchboard_shared.database import make_engine as make_shared_engine


def make_engine(url: str) -> Engine:
    """An engine for `url`: the common one, with SQLite enforcing the foreign keys the
    router's tables declare."""
    return make_shared_engine(url, foreign_keys=True)


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest Alembic revision."""
    config = Config()
    config.set_main_option(
        "script_location", str(resources.files(__package__).joinpath("migrations"))
    )
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def insert_ignore(bind: Connection | Engine, table: Any) -> Any:
    """INSERT ... ON CONFLICT DO NOTHING for the connection's (or engine's) dialect."""
    dialect = sqlite if bind.dialect.name == "sqlite" else postgresql
    return dialect.insert(table)


def aware(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; everything stored is UTC."""
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)
