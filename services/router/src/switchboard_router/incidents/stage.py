"""The clustering stage the consumer runs after each batch is stored: each new item is
linked to an open incident, opens one with a lone item, or stays lone (`clustering.py`
decides; this module reads and writes).

The clustering stage runs in one transaction per batch under a transaction-level
advisory lock (`pg_advisory_xact_lock`), so two router replicas never both open an
incident for one event: the second waits, then sees the first's incident. An item is
marked `clustered_at` in the same transaction as its link, so a crash between storing
and clustering leaves it unmarked and the replayed batch clusters it; a replayed item
already marked keeps its link (replay changes nothing).

Every link and change writes an audit row on each affected item (action
`incident_*`, in `details` the incident and link), which the console's change stream
shows; they are not announced on the routed topic, whose `action` is the item steps'
enum. Nothing here logs text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    bindparam,
    delete,
    insert,
    select,
    text,
    update,
)

from switchboard_router import metrics
from switchboard_router.db.tables import audit, incident_members, incidents, items
from switchboard_router.incidents import similarity
from switchboard_router.incidents.clustering import (
    ECHO_KINDS,
    MEMBER_LINKS,
    Candidate,
    ClusteringConfig,
    Decision,
    IncidentStatus,
    Link,
    LinkReason,
    Mention,
    decide,
    judge,
)
from switchboard_router.incidents.pool import Pool, received, stored_place
from switchboard_router.incidents.store import IncidentAction, fold, refresh
from switchboard_router.items.steps import (
    ROUTER_ACTOR,
)
from switchboard_shared.events import MentionClassified, Urgency

_LOCK_KEY = 0x1C_1DE7  # the clustering stage's advisory lock (one for all replicas)


@dataclass(frozen=True)
class Arrival:
    """A stored item to cluster, with what its event said that the item row lacks."""

    item_id: int
    text: str
    district: str | None = None
    place_text: str | None = None
    street: str | None = None  # the gazetteer's name of the street it is on
    language: str | None = None  # as the classifier found it
    lat: float | None = None
    lon: float | None = None
    # Platform ids of the posts it reposts or quotes.
    echoes: tuple[str, ...] = ()

    @classmethod
    def of(cls, item_id: int, event: MentionClassified) -> Arrival:
        """What clustering needs of a stored item's event: its text, place and echoes."""
        c, mention = event.classification, event.mention
        location = c.location
        point = (location.lat, location.lon) if location is not None else (None, None)
        if None in point and mention.geo is not None:
            point = (mention.geo.lat, mention.geo.lon)
        named = location is not None and location.how in (
            "address",
            "intersection",
            "landmark",
            "street",
        )
        return cls(
            item_id=item_id,
            text=mention.text,
            district=c.district or mention.district,
            place_text=location.text if named and location is not None else None,
            street=location.street if location is not None else None,
            language=c.language,
            lat=point[0],
            lon=point[1],
            echoes=tuple(r.source_id for r in mention.references if r.kind in ECHO_KINDS),
        )


@dataclass(frozen=True)
class Linked:
    """An item the clustering stage linked, for the consumer's log line."""

    item_id: int
    incident_id: int
    link: Link
    reason: LinkReason
    member_count: int


def _place_json(arrival: Arrival) -> dict[str, Any]:
    return {
        "district": arrival.district,
        # `text` is compared (normalised); `label` is shown (as the classifier found it).
        "text": similarity.place_key(arrival.place_text),
        "label": arrival.place_text,
        "street": similarity.place_key(arrival.street),
        "lat": arrival.lat,
        "lon": arrival.lon,
    }


def _mention(row: Any, arrival: Arrival, config: ClusteringConfig) -> tuple[Mention, int]:
    normalised = similarity.normalise(arrival.text)
    hashed = similarity.simhash(normalised)
    mention = Mention(
        item_id=row.id,
        source=row.source,
        source_id=row.source_id,
        received_at=received(row),
        urgency=Urgency(row.urgency),
        topics=frozenset(row.topics or ()),
        place=stored_place(_place_json(arrival)),
        vector=similarity.vector(
            config.in_english(normalised, arrival.language), keep=config.features_kept
        ),
        simhash=hashed,
        word_count=len(similarity.words(normalised)),
        echoes=frozenset((row.source, ref) for ref in arrival.echoes),
    )
    return mention, hashed


def _echoed_first(rows: Sequence[Any], by_item: dict[int, Arrival]) -> list[Any]:
    """The batch oldest first, except that a post another of the batch reposts or quotes
    comes before it: the echo then finds it (an echo is looked up one way, from the
    echo to the post)."""
    by_post = {(r.source, r.source_id): r for r in rows}
    ordered: list[Any] = []
    seen: set[int] = set()

    def visit(row: Any) -> None:
        if row.id in seen:
            return
        seen.add(row.id)
        for ref in by_item[row.id].echoes:
            target = by_post.get((row.source, ref))
            if target is not None:
                visit(target)
        ordered.append(row)

    for row in rows:
        visit(row)
    return ordered


class _Writes:
    """A batch's rows, written together at its end (one statement per kind, not per
    mention): the items' clustering marks, their member rows, their audit rows."""

    def __init__(self) -> None:
        self.clustered: list[dict[str, Any]] = []
        # By item: a later link of the same item in the batch replaces an earlier one.
        self.members: dict[int, dict[str, Any]] = {}
        self.audits: list[dict[str, Any]] = []

    def flush(self, conn: Connection) -> None:
        if self.clustered:
            # The SET clause comes from each row's keys (clustered_at, simhash, ...).
            conn.execute(update(items).where(items.c.id == bindparam("b_id")), self.clustered)
        if self.members:
            conn.execute(insert(incident_members), list(self.members.values()))
        if self.audits:
            queue_of = dict(
                conn.execute(
                    select(items.c.id, items.c.queue_id).where(
                        items.c.id.in_(sorted({a["item_id"] for a in self.audits}))
                    )
                ).all()
            )
            conn.execute(
                insert(audit), [a | {"queue_id": queue_of.get(a["item_id"])} for a in self.audits]
            )


def cluster_items(
    engine: Engine, *, arrivals: Sequence[Arrival], config: ClusteringConfig, now: datetime
) -> list[Linked]:
    """Cluster the stored items not clustered yet, oldest first, in one transaction."""
    if not arrivals:
        return []
    by_item = {a.item_id: a for a in arrivals}
    linked: list[Linked] = []
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
        rows = conn.execute(
            select(items)
            .where(items.c.id.in_(sorted(by_item)), items.c.clustered_at.is_(None))
            .order_by(items.c.received_at, items.c.id)
        ).all()
        if not rows:
            return []
        rows = _echoed_first(rows, by_item)
        pool = Pool(conn, config, since=received(rows[0]) - config.longest_window)
        writes = _Writes()
        for row in rows:
            arrival = by_item[row.id]
            mention, hashed = _mention(row, arrival, config)
            candidates = pool.candidates(mention)
            decision = decide(mention, candidates, config)
            writes.clustered.append(
                {
                    "b_id": row.id,
                    "clustered_at": now,
                    "simhash": similarity.to_signed(hashed),
                    "features": similarity.dump(mention.vector),
                    "place": _place_json(arrival),
                }
            )
            if decision is None:
                pool.add_lone(mention)
                continue
            done = _link(conn, pool, writes, mention, decision, config, now)
            linked.append(done)
            if decision.link == Link.AUTOMATIC:
                _bridge(conn, pool, writes, mention, done.incident_id, candidates, config, now)
        writes.flush(conn)
        for incident_id in sorted(pool.dirty):
            refresh(conn, incident_id, now)
    for done in linked:
        metrics.INCIDENT_LINKS.labels(done.link).inc()
        if done.link in MEMBER_LINKS:
            metrics.INCIDENT_MEMBERS.observe(done.member_count)
    return linked


def _member_row(
    item_id: int, incident_id: int, decision: Decision, config: ClusteringConfig, now: datetime
) -> dict[str, Any]:
    return {
        "item_id": item_id,
        "incident_id": incident_id,
        "link": decision.link,
        "score": decision.score,
        "reason": decision.reason,
        "model_version": config.version,
        "decided_by": None,
        "linked_at": now,
    }


def _link(
    conn: Connection,
    pool: Pool,
    writes: _Writes,
    mention: Mention,
    decision: Decision,
    config: ClusteringConfig,
    now: datetime,
) -> Linked:
    incident_id = decision.candidate.incident_id
    item_id = mention.item_id
    new_members = [item_id]
    if incident_id is None:
        # A lone item and a mention that joins it automatically open an incident (its
        # summary is written by `refresh` at the end of the batch).
        first = decision.candidate.item_ids[0]
        incident_id = int(
            conn.execute(
                insert(incidents).values(
                    status=IncidentStatus.OPEN,
                    urgency=mention.urgency,
                    urgency_rank=mention.urgency.rank,
                    topics=sorted(mention.topics),
                    first_seen=mention.received_at,
                    last_seen=mention.received_at,
                    member_count=2,
                    created_at=now,
                )
            ).inserted_primary_key[0]  # type: ignore[index]
        )
        # A lone item may still carry a suggested or rejected link to another incident;
        # joining this one automatically replaces it (an item is in one incident).
        conn.execute(delete(incident_members).where(incident_members.c.item_id == first))
        writes.members[first] = _member_row(first, incident_id, decision, config, now)
        new_members.insert(0, first)
        count = pool.open(incident_id, first, mention)
    elif decision.link in MEMBER_LINKS:
        count = pool.join(incident_id, mention)
    else:
        # A suggestion: not a member until a person confirms it; still a lone item.
        count = pool.incidents[incident_id].member_count
        pool.add_lone(mention)
    writes.members[item_id] = _member_row(item_id, incident_id, decision, config, now)
    details = {
        "incident_id": incident_id,
        "link": decision.link.value,
        "reason": decision.reason.value,
        "score": decision.score,
        "member_count": count,
    }
    writes.audits += [
        {
            "item_id": member,
            "at": now,
            "actor": ROUTER_ACTOR,
            "action": IncidentAction.LINKED.value,
            "details": details,
        }
        for member in new_members
    ]
    return Linked(item_id, incident_id, decision.link, decision.reason, count)


def _bridge(
    conn: Connection,
    pool: Pool,
    writes: _Writes,
    mention: Mention,
    into: int,
    candidates: Sequence[Candidate],
    config: ClusteringConfig,
    now: datetime,
) -> None:
    """A mention linked automatically to `into` that would as well have joined other open
    incidents or lone items automatically says they are one event: fold them into `into`.

    Fifty reports of one fire arrive in fifty wordings; the first few can open two or three
    incidents (an address in one, "the docks" in another) before a report that names both
    the place and the smoke ties them. Without this the event stays split, and each part
    is claimed and paged on its own. Only automatic links bridge: a suggestion never
    merges anything. Deterministic: candidates are folded in their fixed order.
    """
    bridged = sorted(
        (
            d
            for c in candidates
            if c.incident_id != into
            and pool.still_open(c)
            and (d := judge(mention, c, config)) is not None
            and d.link == Link.AUTOMATIC
        ),
        key=lambda d: d.candidate.order,
    )
    for decision in bridged:
        other = decision.candidate
        moved = pool.bridge(into, other)
        if other.incident_id is not None:
            for row in writes.members.values():  # linked earlier in this batch, not yet written
                if row["incident_id"] == other.incident_id:
                    row["incident_id"] = into
            fold(conn, into=into, other_id=other.incident_id, now=now)
            details: dict[str, Any] = {"incident_id": into, "from_incident": other.incident_id}
            action = IncidentAction.MERGED
        else:
            (item_id,) = moved
            conn.execute(delete(incident_members).where(incident_members.c.item_id == item_id))
            # Linked as the bridging mention would have linked it.
            writes.members[item_id] = _member_row(item_id, into, decision, config, now)
            details = {"incident_id": into, "link": Link.AUTOMATIC.value, "via": mention.item_id}
            action = IncidentAction.LINKED
        writes.audits += [
            {
                "item_id": m,
                "at": now,
                "actor": ROUTER_ACTOR,
                "action": action.value,
                "details": details,
            }
            for m in moved
        ]
