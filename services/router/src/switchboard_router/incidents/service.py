"""Incidents as officers see and work them: the reads the API serves, and the steps
(merge, split, confirm/reject a member, claim and resolve every member). Each step runs
in one transaction and writes an audit row on every affected member."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    insert,
    select,
    update,
)

from switchboard_router import metrics
from switchboard_router.db.engine import aware
from switchboard_router.db.tables import incident_members, incidents, items, notes
from switchboard_router.incidents.clustering import (
    MEMBER_LINKS,
    IncidentStatus,
    Link,
)
from switchboard_router.incidents.store import IncidentAction, fold, refresh, write_audit
from switchboard_router.items.status import HELD, ItemStatus
from switchboard_router.items.steps import (
    Conflict,
    Forbidden,
    Invalid,
    NotFound,
    StepContext,
    assign,
    change,
    load,
    record,
    since_queued,
    visible_item_filter,
)
from switchboard_router.people.security import Principal
from switchboard_shared.events import Disposition, RoutedAction, Urgency

# --- reads ---


_SHOWN_MEMBER = (
    incident_members.c.incident_id,
    incident_members.c.item_id,
    incident_members.c.link,
    incident_members.c.score,
    incident_members.c.reason,
    incident_members.c.model_version,
    incident_members.c.decided_by,
    incident_members.c.linked_at,
    items.c.mention_id,
    items.c.queue_id,
    items.c.status,
    items.c.urgency,
    items.c.received_at,
)


def _visible_members(
    conn: Connection, actor: Principal, incident_ids: Sequence[int] | None, statuses: Sequence[str]
) -> dict[int, list[dict[str, Any]]]:
    query = (
        select(*_SHOWN_MEMBER)
        .join(items, items.c.id == incident_members.c.item_id)
        .join(incidents, incidents.c.id == incident_members.c.incident_id)
        .where(incidents.c.status.in_(list(statuses)), visible_item_filter(actor))
        .order_by(items.c.received_at, items.c.id)
    )
    if incident_ids is not None:
        query = query.where(incident_members.c.incident_id.in_(list(incident_ids)))
    members: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for r in conn.execute(query):
        members[r.incident_id].append(dict(r._mapping))
    return members


def _shown(head: Any, members: list[dict[str, Any]]) -> dict[str, Any]:
    """An incident as the caller sees it: counts and queues of the members it may see."""
    return {
        "incident_id": head.id,
        "status": head.status,
        "urgency": head.urgency,
        "member_count": sum(1 for m in members if m["link"] in MEMBER_LINKS),
        "suggested_count": sum(1 for m in members if m["link"] == Link.SUGGESTED),
        "topics": list(head.topics or []),
        "place": head.place,
        "district": head.district,
        "queue_ids": sorted({m["queue_id"] for m in members}),
        "first_seen": aware(head.first_seen),
        "last_seen": aware(head.last_seen),
        "assignee": head.assignee,
        "members": members,
    }


_SHOWN_STATUSES = (IncidentStatus.OPEN, IncidentStatus.RESOLVED)


def list_incidents(
    engine: Engine, *, actor: Principal, statuses: Sequence[IncidentStatus]
) -> list[dict[str, Any]]:
    """Incidents in `statuses` the caller sees a member of, newest `last_seen` first."""
    with engine.connect() as conn:
        members = _visible_members(conn, actor, None, statuses)
        if not members:
            return []
        heads = conn.execute(
            select(incidents)
            .where(incidents.c.id.in_(sorted(members)))
            .order_by(incidents.c.last_seen.desc(), incidents.c.id.desc())
        ).all()
        return [_shown(h, members[h.id]) for h in heads]


def _visible_incident(conn: Connection, actor: Principal, incident_id: int) -> dict[str, Any]:
    head = conn.execute(select(incidents).where(incidents.c.id == incident_id)).first()
    members = _visible_members(conn, actor, [incident_id], _SHOWN_STATUSES).get(incident_id)
    if head is None or not members:
        raise NotFound(f"incident {incident_id} does not exist")
    return _shown(head, members)


def detail(engine: Engine, *, incident_id: int, actor: Principal) -> dict[str, Any]:
    """One incident with the members the caller may see, by received_at."""
    with engine.connect() as conn:
        return _visible_incident(conn, actor, incident_id)


# --- steps ---


def _open_for_change(conn: Connection, actor: Principal, incident_id: int) -> dict[str, Any]:
    """The incident as the caller sees it, if it is open and the caller may work on one of
    its members (else 404 / 409 / 403)."""
    if conn.dialect.name == "postgresql":
        conn.execute(select(incidents.c.id).where(incidents.c.id == incident_id).with_for_update())
    shown = _visible_incident(conn, actor, incident_id)
    if shown["status"] != IncidentStatus.OPEN:
        raise Conflict(f"incident {incident_id} is {shown['status']}")
    if not any(actor.can_act(m["queue_id"]) for m in shown["members"]):
        raise Forbidden(f"incident {incident_id}: you may read but not work on its items")
    return shown


def merge(
    engine: Engine, *, incident_id: int, other_id: int, actor: Principal, now: datetime
) -> dict[str, Any]:
    """Move every member of `other_id` into `incident_id`; `other_id` becomes merged."""
    with engine.begin() as conn:
        if other_id == incident_id:
            _open_for_change(conn, actor, incident_id)  # 404 first for one the caller cannot see
            raise Invalid(
                "incident_id: an incident cannot be merged with itself", "body.incident_id"
            )
        _open_for_change(conn, actor, min(incident_id, other_id))  # lock in id order
        _open_for_change(conn, actor, max(incident_id, other_id))
        moved = fold(conn, into=incident_id, other_id=other_id, now=now)
        refresh(conn, incident_id, now)
        write_audit(
            conn,
            moved,
            IncidentAction.MERGED,
            actor=actor.officer_id,
            now=now,
            incident_id=incident_id,
            from_incident=other_id,
        )
        return _visible_incident(conn, actor, incident_id)


def split(
    engine: Engine, *, incident_id: int, item_ids: Sequence[int], actor: Principal, now: datetime
) -> dict[str, Any]:
    """Move the members `item_ids` into a new incident; the new incident."""
    with engine.begin() as conn:
        shown = _open_for_change(conn, actor, incident_id)
        seen = {m["item_id"] for m in shown["members"]}
        missing = sorted(set(item_ids) - seen)
        if missing:
            raise Invalid(
                f"item_ids: {missing} are not members of incident {incident_id}", "body.item_ids"
            )
        new_id = int(
            conn.execute(
                insert(incidents).values(
                    status=IncidentStatus.OPEN,
                    urgency=shown["urgency"],
                    urgency_rank=Urgency(shown["urgency"]).rank,
                    topics=shown["topics"],
                    first_seen=now,
                    last_seen=now,
                    member_count=0,
                    created_at=now,
                )
            ).inserted_primary_key[0]  # type: ignore[index]
        )
        conn.execute(
            update(incident_members)
            .where(
                incident_members.c.incident_id == incident_id,
                incident_members.c.item_id.in_(sorted(set(item_ids))),
            )
            .values(incident_id=new_id)
        )
        refresh(conn, incident_id, now)
        refresh(conn, new_id, now)
        write_audit(
            conn,
            item_ids,
            IncidentAction.SPLIT,
            actor=actor.officer_id,
            now=now,
            incident_id=new_id,
            from_incident=incident_id,
        )
        return _visible_incident(conn, actor, new_id)


def decide_member(
    engine: Engine,
    *,
    incident_id: int,
    item_id: int,
    link: Link,
    actor: Principal,
    now: datetime,
) -> dict[str, Any]:
    """A person confirms or rejects a member's link; the member after it."""
    if link not in (Link.CONFIRMED, Link.REJECTED):
        raise ValueError(f"a person confirms or rejects, not {link}")
    with engine.begin() as conn:
        shown = _open_for_change(conn, actor, incident_id)
        member = next((m for m in shown["members"] if m["item_id"] == item_id), None)
        if member is None:
            raise NotFound(f"item {item_id} is not a member of incident {incident_id}")
        if not actor.can_act(member["queue_id"]):
            raise Forbidden(f"item {item_id}: you may read but not work on items of its queue")
        conn.execute(
            update(incident_members)
            .where(incident_members.c.item_id == item_id)
            .values(link=link, decided_by=actor.officer_id, linked_at=now)
        )
        count = refresh(conn, incident_id, now)
        action = IncidentAction.CONFIRMED if link is Link.CONFIRMED else IncidentAction.REJECTED
        write_audit(
            conn,
            [item_id],
            action,
            actor=actor.officer_id,
            now=now,
            incident_id=incident_id,
            link=link,
            previous_link=member["link"],
            member_count=count,
        )
        after = _visible_incident(conn, actor, incident_id)
    metrics.INCIDENT_LINKS.labels(link).inc()
    if link is Link.CONFIRMED:
        metrics.INCIDENT_MEMBERS.observe(count)
    return next(m for m in after["members"] if m["item_id"] == item_id)


def _workable_members(conn: Connection, actor: Principal, shown: dict[str, Any]) -> list[Any]:
    """The member items (automatic or confirmed) the caller may work on, locked."""
    ids = [
        m["item_id"]
        for m in shown["members"]
        if m["link"] in MEMBER_LINKS and actor.can_act(m["queue_id"])
    ]
    return [load(conn, i, lock=True) for i in ids]


def claim(
    engine: Engine, *, incident_id: int, actor: Principal, context: StepContext
) -> dict[str, list[int]]:
    """Claim every open member the caller may claim, in one transaction (one officer works
    the event); the others are skipped (someone else has them, resolved, not theirs)."""
    with engine.begin() as conn:
        shown = _open_for_change(conn, actor, incident_id)
        workable = _workable_members(conn, actor, shown)
        claimed, skipped = [], []
        for row in workable:
            if row.status == ItemStatus.OPEN and assign(
                conn,
                row,
                actor.officer_id,
                context,
                actor=actor.officer_id,
                action=RoutedAction.CLAIMED,
            ):
                claimed.append(row.id)
            elif row.status in HELD and row.assignee == actor.officer_id:
                claimed.append(row.id)  # already theirs
            else:
                skipped.append(row.id)
        workable_ids = {r.id for r in workable}
        skipped += [
            m["item_id"]
            for m in shown["members"]
            if m["link"] in MEMBER_LINKS and m["item_id"] not in workable_ids
        ]
        if claimed:
            conn.execute(
                update(incidents)
                .where(incidents.c.id == incident_id)
                .values(assignee=actor.officer_id, updated_at=context.now)
            )
        return {"claimed": sorted(claimed), "skipped": sorted(skipped)}


def resolve(
    engine: Engine,
    *,
    incident_id: int,
    actor: Principal,
    context: StepContext,
    disposition: Disposition,
    note: str | None,
) -> dict[str, list[int]]:
    """Resolve every member the caller may resolve (their own claims; a supervisor any not
    resolved) with one disposition, and the incident with them."""
    now = context.now
    with engine.begin() as conn:
        shown = _open_for_change(conn, actor, incident_id)
        workable = _workable_members(conn, actor, shown)
        resolved, skipped = [], []
        for row in workable:
            mine = row.status in HELD and row.assignee == actor.officer_id
            if row.status == ItemStatus.RESOLVED or not (mine or actor.is_supervisor):
                skipped.append(row.id)
                continue
            if not change(
                conn,
                row.id,
                items.c.status == row.status,
                status=ItemStatus.RESOLVED,
                resolved_at=now,
                disposition=disposition,
                lease_expires_at=None,
                sla_due_at=None,
                updated_at=now,
            ):
                skipped.append(row.id)
                continue
            after = load(conn, row.id)
            record(
                conn,
                after,
                RoutedAction.RESOLVED,
                actor=actor.officer_id,
                now=now,
                details={"disposition": disposition, "note": note, "incident_id": incident_id},
            )
            if note:
                conn.execute(
                    insert(notes).values(
                        item_id=row.id, officer_id=actor.officer_id, at=now, text=note
                    )
                )
            metrics.TIME_TO_RESOLVE.labels(row.urgency).observe(since_queued(row, now))
            resolved.append(row.id)
        workable_ids = {r.id for r in workable}
        skipped += [
            m["item_id"]
            for m in shown["members"]
            if m["link"] in MEMBER_LINKS and m["item_id"] not in workable_ids
        ]
        conn.execute(
            update(incidents)
            .where(incidents.c.id == incident_id)
            .values(status=IncidentStatus.RESOLVED, resolved_at=now, updated_at=now)
        )
        write_audit(
            conn,
            resolved,
            IncidentAction.RESOLVED,
            actor=actor.officer_id,
            now=now,
            incident_id=incident_id,
            disposition=disposition,
        )
        return {"resolved": sorted(resolved), "skipped": sorted(set(skipped))}
