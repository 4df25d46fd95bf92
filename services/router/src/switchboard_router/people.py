"""Officers, their tokens and shifts, queues and memberships: the store side.

Keyword-only functions over an engine, like `store.py`. Admin-only rules are
enforced by the API; this module only keeps the data consistent.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Engine, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from switchboard_router.models import memberships, officers, queues, tokens
from switchboard_router.security import Principal, Role, hash_token, new_id, new_token

BOOTSTRAP_ADMIN_ID = "admin"


class Missing(LookupError):
    """The named thing does not exist."""


class Exists(ValueError):
    """The thing to create exists already."""


def authenticate(engine: Engine, *, token: str) -> Principal | None:
    """The caller a token belongs to, or None for an unknown or revoked token."""
    with engine.connect() as conn:
        row = conn.execute(
            select(officers.c.id, officers.c.name, officers.c.role)
            .select_from(tokens.join(officers, officers.c.id == tokens.c.officer_id))
            .where(tokens.c.token_hash == hash_token(token), tokens.c.revoked_at.is_(None))
        ).first()
        if row is None:
            return None
        member_of = conn.scalars(
            select(memberships.c.queue_id).where(memberships.c.officer_id == row.id)
        ).all()
    return Principal(
        officer_id=row.id, name=row.name, role=Role(row.role), queues=frozenset(member_of)
    )


def ensure_admin(engine: Engine, *, token: str, now: datetime) -> None:
    """Make sure an admin holds `token` (the operator's bootstrap token); idempotent."""
    digest = hash_token(token)
    with engine.begin() as conn:
        if conn.scalar(select(tokens.c.id).where(tokens.c.token_hash == digest)) is not None:
            return
        if conn.scalar(select(officers.c.id).where(officers.c.id == BOOTSTRAP_ADMIN_ID)) is None:
            conn.execute(
                insert(officers).values(
                    id=BOOTSTRAP_ADMIN_ID,
                    name="Bootstrap administrator",
                    role=Role.ADMIN.value,
                    on_duty=False,
                    capacity=1,
                    created_at=now,
                )
            )
        conn.execute(
            insert(tokens).values(
                id=new_id("tok"), officer_id=BOOTSTRAP_ADMIN_ID, token_hash=digest, created_at=now
            )
        )


def _officer(conn: Any, officer_id: str) -> dict[str, Any]:
    row = conn.execute(select(officers).where(officers.c.id == officer_id)).first()
    if row is None:
        raise Missing(f"officer {officer_id!r} does not exist")
    out = dict(row._mapping)
    out["queues"] = sorted(
        conn.scalars(
            select(memberships.c.queue_id).where(memberships.c.officer_id == officer_id)
        ).all()
    )
    return out


def create_officer(
    engine: Engine, *, name: str, role: Role, capacity: int, on_duty: bool, now: datetime
) -> dict[str, Any]:
    """A new officer with a generated id."""
    officer_id = new_id("off")
    with engine.begin() as conn:
        conn.execute(
            insert(officers).values(
                id=officer_id,
                name=name,
                role=role.value,
                capacity=capacity,
                on_duty=on_duty,
                created_at=now,
            )
        )
        return _officer(conn, officer_id)


def get_officer(engine: Engine, *, officer_id: str) -> dict[str, Any]:
    """One officer with their queues; Missing if unknown."""
    with engine.connect() as conn:
        return _officer(conn, officer_id)


def list_officers(engine: Engine) -> list[dict[str, Any]]:
    """Every officer with their queues."""
    with engine.connect() as conn:
        ids = conn.scalars(select(officers.c.id).order_by(officers.c.id)).all()
        return [_officer(conn, i) for i in ids]


def update_officer(engine: Engine, *, officer_id: str, changes: dict[str, Any]) -> dict[str, Any]:
    """Change name, role, capacity or duty; Missing if unknown."""
    with engine.begin() as conn:
        if changes:
            values = {k: (v.value if isinstance(v, Role) else v) for k, v in changes.items()}
            result = conn.execute(
                update(officers).where(officers.c.id == officer_id).values(**values)
            )
            if result.rowcount == 0:
                raise Missing(f"officer {officer_id!r} does not exist")
        return _officer(conn, officer_id)


def issue_token(engine: Engine, *, officer_id: str, now: datetime) -> tuple[str, str]:
    """A new token for the officer: (token id, token). The token is never stored."""
    token = new_token()
    token_id = new_id("tok")
    with engine.begin() as conn:
        _officer(conn, officer_id)
        conn.execute(
            insert(tokens).values(
                id=token_id, officer_id=officer_id, token_hash=hash_token(token), created_at=now
            )
        )
    return token_id, token


def revoke_token(engine: Engine, *, officer_id: str, token_id: str, now: datetime) -> None:
    """Revoke one of the officer's tokens; Missing if there is no such token."""
    with engine.begin() as conn:
        result = conn.execute(
            update(tokens)
            .where(tokens.c.id == token_id, tokens.c.officer_id == officer_id)
            .values(revoked_at=now)
        )
        if result.rowcount == 0:
            raise Missing(f"token {token_id!r} of officer {officer_id!r} does not exist")


def queue_row(engine: Engine, *, queue_id: str) -> dict[str, Any] | None:
    """The stored settings of a queue, or None."""
    with engine.connect() as conn:
        row = conn.execute(select(queues).where(queues.c.id == queue_id)).first()
    return None if row is None else dict(row._mapping)


def create_queue(
    engine: Engine,
    *,
    queue_id: str,
    assignment_mode: str | None,
    supervisor_queue: str | None,
    now: datetime,
) -> None:
    """A new queue; Exists if it is there already."""
    try:
        with engine.begin() as conn:
            conn.execute(
                insert(queues).values(
                    id=queue_id,
                    assignment_mode=assignment_mode,
                    supervisor_queue=supervisor_queue,
                    created_at=now,
                )
            )
    except IntegrityError as exc:
        raise Exists(f"queue {queue_id!r} exists") from exc


def update_queue(engine: Engine, *, queue_id: str, changes: dict[str, Any]) -> None:
    """Change a queue's assignment mode or supervisor queue; Missing if unknown."""
    with engine.begin() as conn:
        if conn.scalar(select(queues.c.id).where(queues.c.id == queue_id)) is None:
            raise Missing(f"queue {queue_id!r} does not exist")
        if changes:
            conn.execute(update(queues).where(queues.c.id == queue_id).values(**changes))


def add_member(engine: Engine, *, queue_id: str, officer_id: str, now: datetime) -> bool:
    """Put an officer in a queue; False when they were already a member."""
    with engine.begin() as conn:
        if conn.scalar(select(queues.c.id).where(queues.c.id == queue_id)) is None:
            raise Missing(f"queue {queue_id!r} does not exist")
        _officer(conn, officer_id)
        exists = conn.scalar(
            select(memberships.c.officer_id).where(
                memberships.c.queue_id == queue_id, memberships.c.officer_id == officer_id
            )
        )
        if exists is not None:
            return False
        conn.execute(
            insert(memberships).values(queue_id=queue_id, officer_id=officer_id, created_at=now)
        )
        return True


def remove_member(engine: Engine, *, queue_id: str, officer_id: str) -> None:
    """Take an officer out of a queue; Missing if they were not in it."""
    with engine.begin() as conn:
        result = conn.execute(
            delete(memberships).where(
                memberships.c.queue_id == queue_id, memberships.c.officer_id == officer_id
            )
        )
        if result.rowcount == 0:
            raise Missing(f"officer {officer_id!r} is not a member of queue {queue_id!r}")


def list_members(engine: Engine, *, queue_id: str) -> list[dict[str, Any]]:
    """The members of a queue with their duty and capacity."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                officers.c.id,
                officers.c.name,
                officers.c.role,
                officers.c.on_duty,
                officers.c.capacity,
            )
            .select_from(memberships.join(officers, officers.c.id == memberships.c.officer_id))
            .where(memberships.c.queue_id == queue_id)
            .order_by(officers.c.id)
        ).all()
    return [dict(r._mapping) for r in rows]
