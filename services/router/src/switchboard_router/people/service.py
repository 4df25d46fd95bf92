"""Officers, their tokens and shifts: the store side of the officer routes.

Keyword-only functions over an engine. Admin-only rules are
enforced by the API; this module only keeps the data consistent. Every
change takes `by` (who is acting) and writes its access-audit row in the
change's own transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, insert, or_, select, update

from switchboard_router.audit.service import ROUTER, AccessAction, By, record
from switchboard_router.db.tables import memberships, officers, tokens
from switchboard_router.people.security import Principal, Role, hash_token, new_id, new_token
from switchboard_shared.logs import fields

BOOTSTRAP_ADMIN_ID = "admin"
log = logging.getLogger(__name__)


class Missing(LookupError):
    """The named thing does not exist."""


class Exists(ValueError):
    """The thing to create exists already."""


def authenticate(engine: Engine, *, token: str, now: datetime | None = None) -> Principal | None:
    """The caller a token belongs to, or None for an unknown, revoked or expired token."""
    now = now or datetime.now(UTC)
    with engine.connect() as conn:
        row = conn.execute(
            select(officers.c.id, officers.c.name, officers.c.role, tokens.c.id.label("token_id"))
            .select_from(tokens.join(officers, officers.c.id == tokens.c.officer_id))
            .where(
                tokens.c.token_hash == hash_token(token),
                tokens.c.revoked_at.is_(None),
                or_(tokens.c.expires_at.is_(None), tokens.c.expires_at > now),
            )
        ).first()
        if row is None:
            return None
        member_of = _queues_of(conn, row.id)
    return Principal(
        officer_id=row.id,
        name=row.name,
        role=Role(row.role),
        queues=frozenset(member_of),
        token_id=row.token_id,
    )


class RevokedBootstrapToken(ValueError):
    """The configured bootstrap token was revoked: refusing to start with it."""


def ensure_admin(engine: Engine, *, token: str, now: datetime) -> None:
    """Make sure an admin holds `token` (the operator's bootstrap token) and no
    earlier bootstrap token still works; idempotent."""
    digest = hash_token(token)
    with engine.begin() as conn:
        existing = conn.execute(
            select(tokens.c.id, tokens.c.revoked_at).where(tokens.c.token_hash == digest)
        ).first()
        if existing is not None:
            if existing.revoked_at is not None:
                # An operator rolled back to a retired secret: say so instead of starting
                # with an admin nobody can use.
                raise RevokedBootstrapToken(
                    f"SWITCHBOARD_ROUTER_BOOTSTRAP_ADMIN_TOKEN: token {existing.id} was revoked; "
                    "set a new value"
                )
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
        # Rotation: the setting changed, so every earlier bootstrap token stops working.
        retired = conn.scalars(
            select(tokens.c.id).where(tokens.c.bootstrap.is_(True), tokens.c.revoked_at.is_(None))
        ).all()
        if retired:
            conn.execute(update(tokens).where(tokens.c.id.in_(retired)).values(revoked_at=now))
        for token_id in retired:
            record(
                conn, ROUTER, AccessAction.BOOTSTRAP_TOKEN_REVOKED, obj=f"token:{token_id}", now=now
            )
        token_id = new_id("tok")
        conn.execute(
            insert(tokens).values(
                id=token_id,
                officer_id=BOOTSTRAP_ADMIN_ID,
                token_hash=digest,
                created_at=now,
                bootstrap=True,
            )
        )
        record(
            conn,
            ROUTER,
            AccessAction.BOOTSTRAP_TOKEN_ISSUED,
            obj=f"token:{token_id}",
            now=now,
            details={"officer_id": BOOTSTRAP_ADMIN_ID, "revoked": list(retired)},
        )
    if retired:
        log.warning(
            "bootstrap admin token rotated; the previous ones are revoked",
            extra=fields(token_id=token_id, revoked=",".join(retired)),
        )


def _queues_of(conn: Connection, officer_id: str) -> Sequence[str]:
    """The queues the officer is a member of."""
    return conn.scalars(
        select(memberships.c.queue_id).where(memberships.c.officer_id == officer_id)
    ).all()


def officer_record(conn: Any, officer_id: str) -> dict[str, Any]:
    row = conn.execute(select(officers).where(officers.c.id == officer_id)).first()
    if row is None:
        raise Missing(f"officer {officer_id!r} does not exist")
    out = dict(row._mapping)
    out["queues"] = sorted(_queues_of(conn, officer_id))
    return out


def create_officer(
    engine: Engine,
    *,
    name: str,
    role: Role,
    capacity: int,
    on_duty: bool,
    now: datetime,
    by: By,
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
        record(
            conn,
            by,
            AccessAction.OFFICER_CREATED,
            obj=f"officer:{officer_id}",
            now=now,
            details={"role": role.value, "capacity": capacity, "on_duty": on_duty},
        )
        return officer_record(conn, officer_id)


def get_officer(engine: Engine, *, officer_id: str) -> dict[str, Any]:
    """One officer with their queues; Missing if unknown."""
    with engine.connect() as conn:
        return officer_record(conn, officer_id)


def list_officers(engine: Engine) -> list[dict[str, Any]]:
    """Every officer with their queues."""
    with engine.connect() as conn:
        ids = conn.scalars(select(officers.c.id).order_by(officers.c.id)).all()
        return [officer_record(conn, i) for i in ids]


def update_officer(
    engine: Engine,
    *,
    officer_id: str,
    changes: dict[str, Any],
    now: datetime,
    by: By,
    action: AccessAction = AccessAction.OFFICER_UPDATED,
) -> dict[str, Any]:
    """Change name, role, capacity or duty; Missing if unknown."""
    with engine.begin() as conn:
        if changes:
            values = {k: (v.value if isinstance(v, Role) else v) for k, v in changes.items()}
            before = conn.execute(
                select(*(officers.c[k] for k in values)).where(officers.c.id == officer_id)
            ).first()
            result = conn.execute(
                update(officers).where(officers.c.id == officer_id).values(**values)
            )
            if result.rowcount == 0 or before is None:
                raise Missing(f"officer {officer_id!r} does not exist")
            record(
                conn,
                by,
                action,
                obj=f"officer:{officer_id}",
                now=now,
                details={"before": dict(before._mapping), "after": values},
            )
        return officer_record(conn, officer_id)


def issue_token(
    engine: Engine, *, officer_id: str, now: datetime, lifetime: timedelta, by: By
) -> tuple[str, str, datetime]:
    """A new token for the officer: (token id, token, expiry). The token is never stored."""
    token = new_token()
    token_id = new_id("tok")
    expires_at = now + lifetime
    with engine.begin() as conn:
        officer_record(conn, officer_id)
        conn.execute(
            insert(tokens).values(
                id=token_id,
                officer_id=officer_id,
                token_hash=hash_token(token),
                created_at=now,
                expires_at=expires_at,
                issued_by=by.officer_id,
            )
        )
        record(
            conn,
            by,
            AccessAction.TOKEN_ISSUED,
            obj=f"token:{token_id}",
            now=now,
            details={"officer_id": officer_id, "expires_at": expires_at},
        )
    return token_id, token, expires_at


def revoke_token(engine: Engine, *, officer_id: str, token_id: str, now: datetime, by: By) -> None:
    """Revoke one of the officer's tokens; Missing if there is no such token."""
    with engine.begin() as conn:
        result = conn.execute(
            update(tokens)
            .where(tokens.c.id == token_id, tokens.c.officer_id == officer_id)
            .values(revoked_at=now)
        )
        if result.rowcount == 0:
            raise Missing(f"token {token_id!r} of officer {officer_id!r} does not exist")
        record(
            conn,
            by,
            AccessAction.TOKEN_REVOKED,
            obj=f"token:{token_id}",
            now=now,
            details={"officer_id": officer_id},
        )
