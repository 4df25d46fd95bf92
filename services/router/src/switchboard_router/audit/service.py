"""The access audit: who read or changed what, with which token, from where.

Every read of mention data (an item, a queue's items, the stream, members,
officers, this audit itself), every work step and every admin action
(officers, roles, tokens, memberships, queue settings) appends one row. A
change writes its row on the connection of the change's own transaction
(`record(conn, ...)`; work steps through `RecordingEngine`), so there is
never a change without its row nor a row for a change that rolled back; a
read writes its row after the read and before the answer goes out
(`record_read`), so nothing is answered unrecorded.

The principal is the officer behind the token *and* the token id: an admin
who mints a token for an officer and acts with it shows up as the minting
(`token_issued` by the admin, object `token:<id>`), the reads and steps under
that token id (whose `issued_by` is the admin) and the revocation.

Rows are never updated or deleted by the app except by the retention purge
(`retention.py`); the database refuses anything else (migration 0003).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, Engine, insert, select

from switchboard_router.db.tables import access_audit, tokens

CLIENT_MAX = 64
MAX_PAGE = 1000


class AccessAction(StrEnum):
    """What a principal did."""

    ITEM_READ = "item_read"
    QUEUE_ITEMS_READ = "queue_items_read"
    MEMBERS_READ = "members_read"
    OFFICERS_READ = "officers_read"
    OFFICER_READ = "officer_read"
    STREAM_OPENED = "stream_opened"
    AUDIT_READ = "audit_read"
    ITEM_CLAIMED = "item_claimed"
    ITEM_ACKNOWLEDGED = "item_acknowledged"
    ITEM_RELEASED = "item_released"
    ITEM_TRANSFERRED = "item_transferred"
    ITEM_RESOLVED = "item_resolved"
    ITEM_NOTE_ADDED = "item_note_added"
    ITEM_FEEDBACK = "item_feedback"
    ITEM_STEP = "item_step"
    REPLIES_READ = "replies_read"
    REPLY_STEP = "reply_step"
    REPORT_READ = "report_read"
    OFFICER_CREATED = "officer_created"
    OFFICER_UPDATED = "officer_updated"
    SHIFT_CHANGED = "shift_changed"
    TOKEN_ISSUED = "token_issued"
    TOKEN_REVOKED = "token_revoked"
    BOOTSTRAP_TOKEN_ISSUED = "bootstrap_token_issued"
    BOOTSTRAP_TOKEN_REVOKED = "bootstrap_token_revoked"
    MEMBER_ADDED = "member_added"
    MEMBER_REMOVED = "member_removed"
    QUEUE_CREATED = "queue_created"
    QUEUE_UPDATED = "queue_updated"
    RETENTION_PURGED = "retention_purged"
    POLICY_RELOADED = "policy_reloaded"


@dataclass(frozen=True)
class By:
    """Who is acting: officer, token and client address (None for the router itself)."""

    officer_id: str
    token_id: str | None
    client: str | None


ROUTER = By("router", None, None)


def record(
    conn: Connection,
    by: By,
    action: AccessAction,
    *,
    obj: str | None,
    now: datetime,
    details: dict[str, Any] | None = None,
) -> None:
    """Append one access row on `conn` (inside the transaction of the change it records)."""
    conn.execute(
        insert(access_audit).values(
            at=now,
            officer_id=by.officer_id,
            token_id=by.token_id,
            action=action.value,
            object=obj,
            client=by.client[:CLIENT_MAX] if by.client else None,
            details=json.loads(json.dumps(details or {}, default=str)),
        )
    )


@dataclass(frozen=True)
class Access:
    """An access row still to be written, all but its time: who did what, to which object."""

    by: By
    action: AccessAction
    obj: str | None = None
    details: dict[str, Any] | None = None

    def record(self, conn: Connection, now: datetime) -> None:
        """Append the row on `conn`, stamped `now`."""
        record(conn, self.by, self.action, obj=self.obj, now=now, details=self.details)


def record_read(engine: Engine, access: Access, *, now: datetime) -> None:
    """Append one access row in a transaction of its own (reads change nothing else)."""
    with engine.begin() as conn:
        access.record(conn, now)


class RecordingEngine:
    """An engine whose every transaction ends, if it succeeded, by appending one access row.

    A work step (`work.claim`, `work.resolve`...) opens exactly one transaction
    on the engine it is given; handing it this instead puts the step's access
    row in the step's own transaction without the step knowing about tokens or
    client addresses. A step that fails (409, 404) rolls back and records nothing.
    """

    def __init__(self, engine: Engine, access: Access) -> None:
        self._engine, self._access = engine, access

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """A transaction of the engine with the access row appended before commit."""
        with self._engine.begin() as conn:
            yield conn
            self._access.record(conn, datetime.now(UTC))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._engine, name)


@dataclass(frozen=True)
class Filters:
    """What `GET /v1/audit/access` narrows by; None means any."""

    principal: str | None = None
    token_id: str | None = None
    action: AccessAction | None = None
    obj: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    before_id: int | None = None
    limit: int = 100


def entries(engine: Engine, filters: Filters) -> list[dict[str, Any]]:
    """Access rows matching `filters`, newest first, with who issued each row's token."""
    query = (
        select(access_audit, tokens.c.issued_by.label("token_issued_by"))
        .select_from(access_audit.outerjoin(tokens, tokens.c.id == access_audit.c.token_id))
        .order_by(access_audit.c.id.desc())
        .limit(min(filters.limit, MAX_PAGE))
    )
    if filters.principal is not None:
        query = query.where(access_audit.c.officer_id == filters.principal)
    if filters.token_id is not None:
        query = query.where(access_audit.c.token_id == filters.token_id)
    if filters.action is not None:
        query = query.where(access_audit.c.action == filters.action.value)
    if filters.obj is not None:
        query = query.where(access_audit.c.object == filters.obj)
    if filters.since is not None:
        query = query.where(access_audit.c.at >= filters.since)
    if filters.until is not None:
        query = query.where(access_audit.c.at < filters.until)
    if filters.before_id is not None:
        query = query.where(access_audit.c.id < filters.before_id)
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(query)]
