"""The database engine of a service that keeps a few tables of its own (the responder's send
ledger, the notifier's sends), beside the router's in the same database or not.

PostgreSQL in production and tests; SQLite in `make run`, where several services write
the one file: WAL lets readers go on while one writes, and a busy timeout makes a writer
wait for another instead of failing. The tables are created when missing (these services
have no migrations of their own: a new column is a new table).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, MetaData, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError, ProgrammingError


def make_engine(url: str, *, foreign_keys: bool = False) -> Engine:
    """An engine for `url`; SQLite gets WAL and a busy timeout (see the module docstring),
    and with `foreign_keys` enforces them as PostgreSQL always does."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

    @event.listens_for(engine, "connect")
    def _wal(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        if foreign_keys:
            cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    return engine


def create_tables(metadata: MetaData, engine: Engine) -> None:
    """Create `metadata`'s tables that are missing."""
    try:
        metadata.create_all(engine, checkfirst=True)
    except (OperationalError, ProgrammingError):
        # Another replica created them between the check and the CREATE; check again.
        metadata.create_all(engine, checkfirst=True)


def ping(engine: Engine) -> None:
    """Raise if the database does not answer."""
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))
