"""Retention: what the router forgets, and when (docs/retention.md says why).

Ages are counted from an item's `received_at`:
- after `redact_after` the mention's text, author, geo point, place text,
  links, media, references and metadata, and the words rules matched in it,
  are blanked (`redacted_at` is set); the item's queue, urgency, topics, rule,
  disposition and times stay, so queue statistics still add up;
- after `delete_after` the item goes, with its notes, watch copies and item
  audit trail;
- access-audit rows go after `access_audit_for` (at least `delete_after`, so
  who read an item is known for as long as the item exists and after).

The audit tables refuse DELETE except while a `retention_runs` row is open:
the purge opens one, deletes, and closes it in the same transaction, so the
permission never outlives the purge and no other transaction ever sees it.
Each run that deleted or redacted something stays in `retention_runs` with
its counts, and in the access audit as `retention_purged` by `router`.

Bounded work per call (`batch` rows of each kind): the clock calls it every
tick, so a large backlog drains over several ticks without one long lock.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from switchboard_router.audit.service import ROUTER, AccessAction, record
from switchboard_router.db.tables import (
    access_audit,
    answers,
    audit,
    incident_members,
    incidents,
    items,
    notes,
    replies,
    retention_runs,
    watches,
)

BATCH = 500
DAY = timedelta(days=1)

# Mention fields that identify or locate a person, or carry what they wrote.
_REDACTED_MENTION: dict[str, Any] = {
    "text": "",
    "author": None,
    "geo": None,
    "url": None,
    "references": [],
    "media": [],
    "metadata": {},
}


@dataclass(frozen=True)
class Retention:
    """The three windows."""

    redact_after: timedelta
    delete_after: timedelta
    access_audit_for: timedelta

    @classmethod
    def days(cls, redact: int, delete: int, access_audit: int) -> Retention:
        """Windows given in days (as the settings are)."""
        return cls(redact * DAY, delete * DAY, access_audit * DAY)


def redacted_mention(mention: dict[str, Any]) -> dict[str, Any]:
    """The stored mention without what identifies, locates or quotes its author."""
    out = {k: v for k, v in mention.items() if k not in _REDACTED_MENTION}
    return out | {k: copy.deepcopy(v) for k, v in _REDACTED_MENTION.items() if k in mention}


def redacted_reasons(reasons: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Reasons without the words they matched (fragments of the mention's text)."""
    return [{**r, "matched": []} if isinstance(r, dict) else r for r in reasons]


def _aged(
    conn: Connection, ids: Any, at: Any, before: datetime, batch: int, *, order: Any = None
) -> list[int]:
    """The `ids` of the rows whose `at` is before `before`, at most `batch`, oldest first
    (by `order`, else by `at`)."""
    query = select(ids).where(at < before).order_by(at if order is None else order).limit(batch)
    return [int(i) for i in conn.scalars(query)]


def purge(
    conn: Connection, *, now: datetime, retention: Retention, batch: int = BATCH
) -> dict[str, int]:
    """One bounded pass of redaction and deletion on `conn` (the caller's transaction)."""
    to_redact = conn.execute(
        select(items.c.id, items.c.mention, items.c.reasons, items.c.place)
        .where(items.c.received_at < now - retention.redact_after, items.c.redacted_at.is_(None))
        .order_by(items.c.received_at)
        .limit(batch)
    ).all()
    to_delete = _aged(conn, items.c.id, items.c.received_at, now - retention.delete_after, batch)
    aged_access = _aged(
        conn,
        access_audit.c.id,
        access_audit.c.at,
        now - retention.access_audit_for,
        batch,
        order=access_audit.c.id,  # the append order
    )
    done = {
        "redacted": 0,
        "deleted": 0,
        "notes": 0,
        "replies": 0,
        "item_audit": 0,
        "access_audit": 0,
    }
    if not (to_redact or to_delete or aged_access):
        return done
    for row in to_redact:
        conn.execute(
            update(items)
            .where(items.c.id == row.id)
            .values(
                text="",
                mention=redacted_mention(row.mention or {}),
                reasons=redacted_reasons(row.reasons or []),
                # The incident clustering's copy of the text (hashed n-grams) and of where the
                # author said they were go with it; the district, coarse, stays for the map.
                features=None,
                simhash=None,
                place={"district": row.place.get("district")} if row.place else None,
                redacted_at=now,
            )
        )
    if to_redact:
        # Our answers can quote the citizen (a name in a thank-you): blanked with the mention.
        redacted = [r.id for r in to_redact]
        conn.execute(update(replies).where(replies.c.item_id.in_(redacted)).values(text=""))
        conn.execute(
            update(answers).where(answers.c.item_id.in_(redacted)).values(text="", author=None)
        )
        # An incident shows the address its first member named: it goes with that member's.
        conn.execute(
            update(incidents)
            .where(
                incidents.c.id.in_(
                    select(incident_members.c.incident_id).where(
                        incident_members.c.item_id.in_(redacted)
                    )
                )
            )
            .values(place=None)
        )
    done["redacted"] = len(to_redact)
    run_id = None
    if to_delete or aged_access:
        run_id = conn.execute(
            insert(retention_runs).values(started_at=now, finished_at=None, details={})
        ).inserted_primary_key[0]  # type: ignore[index]
    if to_delete:
        # The foreign keys cascade too (migration 0003); deleting the children
        # explicitly counts them and does not depend on SQLite's foreign_keys pragma.
        done["notes"] = conn.execute(delete(notes).where(notes.c.item_id.in_(to_delete))).rowcount
        done["replies"] = conn.execute(
            delete(replies).where(replies.c.item_id.in_(to_delete))
        ).rowcount
        conn.execute(delete(answers).where(answers.c.item_id.in_(to_delete)))
        conn.execute(delete(watches).where(watches.c.item_id.in_(to_delete)))
        done["item_audit"] = conn.execute(
            delete(audit).where(audit.c.item_id.in_(to_delete))
        ).rowcount
        done["deleted"] = conn.execute(delete(items).where(items.c.id.in_(to_delete))).rowcount
    if aged_access:
        done["access_audit"] = conn.execute(
            delete(access_audit).where(access_audit.c.id.in_(aged_access))
        ).rowcount
    if run_id is not None:
        # Closing the run before commit takes the audit tables' delete permission away again.
        conn.execute(
            update(retention_runs)
            .where(retention_runs.c.id == run_id)
            .values(finished_at=now, details=done)
        )
    record(conn, ROUTER, AccessAction.RETENTION_PURGED, obj=None, now=now, details=done)
    return done
