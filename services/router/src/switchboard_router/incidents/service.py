"""Incidents in the store: the clustering stage the consumer runs after each batch is
stored, the reads the API serves, and the steps officers take on an incident (merge,
split, confirm/reject a member, claim and resolve every member).

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

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    bindparam,
    delete,
    func,
    insert,
    select,
    text,
    update,
)

from switchboard_router import metrics
from switchboard_router.db.engine import aware
from switchboard_router.db.tables import audit, incident_members, incidents, items, notes
from switchboard_router.incidents import similarity
from switchboard_router.incidents.clustering import (
    MEMBER_LINKS,
    Candidate,
    ClusteringConfig,
    Decision,
    IncidentStatus,
    Link,
    LinkReason,
    Mention,
    Place,
    decide,
    judge,
    summarise,
)
from switchboard_router.items.status import HELD, ItemStatus
from switchboard_router.items.steps import (
    ROUTER_ACTOR,
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

_LOCK_KEY = 0x1C_1DE7  # the clustering stage's advisory lock (one for all replicas)


class IncidentAction(StrEnum):
    """What happened to an item's incident membership (its audit row's action)."""

    LINKED = "incident_linked"
    CONFIRMED = "incident_confirmed"
    REJECTED = "incident_rejected"
    MERGED = "incident_merged"
    SPLIT = "incident_split"
    RESOLVED = "incident_resolved"


@dataclass(frozen=True)
class Arrival:
    """A stored item to cluster, with what its event said that the item row lacks."""

    item_id: int
    text: str
    district: str | None = None
    place_text: str | None = None
    lat: float | None = None
    lon: float | None = None
    # Platform ids of the posts it reposts or quotes.
    echoes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Linked:
    """An item the clustering stage linked, for the consumer's log line."""

    item_id: int
    incident_id: int
    link: Link
    reason: LinkReason
    member_count: int


# --- the clustering stage ---


def _place_json(arrival: Arrival) -> dict[str, Any]:
    return {
        "district": arrival.district,
        # `text` is compared (normalised); `label` is shown (as the classifier found it).
        "text": similarity.place_key(arrival.place_text),
        "label": arrival.place_text,
        "lat": arrival.lat,
        "lon": arrival.lon,
    }


def _place(stored: dict[str, Any] | None) -> Place:
    stored = stored or {}
    lat, lon = stored.get("lat"), stored.get("lon")
    return Place(
        districts=frozenset([stored["district"]] if stored.get("district") else []),
        texts=frozenset([stored["text"]] if stored.get("text") else []),
        points=((float(lat), float(lon)),) if lat is not None and lon is not None else (),
    )


def _mention(row: Any, arrival: Arrival, config: ClusteringConfig) -> tuple[Mention, int]:
    normalised = similarity.normalise(arrival.text)
    hashed = similarity.simhash(normalised)
    mention = Mention(
        item_id=row.id,
        source=row.source,
        source_id=row.source_id,
        received_at=_received(row),
        urgency=Urgency(row.urgency),
        topics=frozenset(row.topics or ()),
        place=_place(_place_json(arrival)),
        vector=similarity.vector(normalised, keep=config.features_kept),
        simhash=hashed,
        word_count=len(similarity.words(normalised)),
        echoes=frozenset((row.source, ref) for ref in arrival.echoes),
    )
    return mention, hashed


_MEMBER_COLUMNS = (
    items.c.id,
    items.c.source,
    items.c.source_id,
    items.c.topics,
    items.c.received_at,
    items.c.simhash,
    items.c.features,
    items.c.place,
)


def _received(row: Any) -> datetime:
    received = aware(row.received_at)
    assert received is not None  # the column is NOT NULL
    return received


class _Group:
    """An open incident, or a lone item, as the stage sees it while it clusters a batch:
    loaded once per batch and grown in memory as the batch's mentions join it."""

    def __init__(self, incident_id: int | None, topics: Iterable[str]) -> None:
        self.incident_id = incident_id
        self.item_ids: list[int] = []
        self.topics = set(topics)
        self.last_seen: datetime | None = None
        self.place = Place()
        self.centroid = similarity.Centroid()
        self.simhashes: list[int] = []
        self.posts: set[tuple[str, str]] = set()
        self._candidate: Candidate | None = None

    def add(
        self,
        item_id: int,
        *,
        topics: Iterable[str],
        received_at: datetime,
        place: Place,
        vector: similarity.Vector,
        simhash: int | None,
        post: tuple[str, str],
    ) -> None:
        self.item_ids.append(item_id)
        self.topics |= set(topics)
        self.last_seen = received_at if self.last_seen is None else max(self.last_seen, received_at)
        self.place = self.place.union(place) if self.place.known else place
        self.centroid.add(vector)
        if simhash is not None:
            self.simhashes.append(simhash)
        self.posts.add(post)
        self._candidate = None

    def add_row(self, row: Any) -> None:
        self.add(
            row.id,
            topics=row.topics or (),
            received_at=_received(row),
            place=_place(row.place),
            vector=similarity.load(row.features),
            simhash=similarity.from_signed(row.simhash) if row.simhash is not None else None,
            post=(row.source, row.source_id),
        )

    def add_mention(self, m: Mention) -> None:
        self.add(
            m.item_id,
            topics=m.topics,
            received_at=m.received_at,
            place=m.place,
            vector=m.vector,
            simhash=m.simhash,
            post=(m.source, m.source_id),
        )

    def absorb(self, other: _Group) -> None:
        """Take in every member of `other` (a mention bridged the two)."""
        self.item_ids += other.item_ids
        self.topics |= other.topics
        if other.last_seen is not None:
            self.last_seen = (
                other.last_seen if self.last_seen is None else max(self.last_seen, other.last_seen)
            )
        self.place = self.place.union(other.place)
        self.centroid.absorb(other.centroid)
        self.simhashes += other.simhashes
        self.posts |= other.posts
        self._candidate = None

    @property
    def member_count(self) -> int:
        return len(self.item_ids)

    def candidate(self) -> Candidate:
        if self._candidate is None:
            assert self.last_seen is not None  # a group has at least one member
            self._candidate = Candidate(
                incident_id=self.incident_id,
                item_ids=tuple(sorted(self.item_ids)),
                topics=frozenset(self.topics),
                last_seen=self.last_seen,
                place=self.place,
                vector=self.centroid,
                simhashes=tuple(self.simhashes),
                posts=frozenset(self.posts),
            )
        return self._candidate


class _Pool:
    """The candidates of one batch: the open incidents and lone items of the longest
    window before its oldest mention, read once, kept current as its mentions are linked."""

    def __init__(self, conn: Connection, config: ClusteringConfig, since: datetime) -> None:
        self.conn = conn
        self.incidents: dict[int, _Group] = {}
        self.lone: dict[int, _Group] = {}
        self.dirty: set[int] = set()
        self._load_incidents(
            conn.scalars(
                select(incidents.c.id).where(
                    incidents.c.status == IncidentStatus.OPEN, incidents.c.last_seen >= since
                )
            ).all()
        )
        linked = select(incident_members.c.item_id).where(incident_members.c.link.in_(MEMBER_LINKS))
        for row in conn.execute(
            select(*_MEMBER_COLUMNS)
            .where(
                items.c.clustered_at.is_not(None),
                items.c.received_at >= since,
                items.c.id.not_in(linked),
            )
            .order_by(items.c.received_at.desc(), items.c.id.desc())
            .limit(config.max_candidates)
        ):
            self._add_lone_row(row)

    def _add_lone_row(self, row: Any) -> None:
        group = _Group(None, row.topics or ())
        group.add_row(row)
        self.lone[row.id] = group

    def _load_incidents(self, incident_ids: Iterable[int]) -> None:
        ids = sorted(set(incident_ids) - set(self.incidents))
        if not ids:
            return
        heads = self.conn.execute(
            select(incidents.c.id, incidents.c.topics).where(
                incidents.c.id.in_(ids), incidents.c.status == IncidentStatus.OPEN
            )
        ).all()
        for head in heads:
            self.incidents[head.id] = _Group(head.id, head.topics or ())
        for row in self.conn.execute(
            select(incident_members.c.incident_id, *_MEMBER_COLUMNS)
            .join(items, items.c.id == incident_members.c.item_id)
            .where(
                incident_members.c.incident_id.in_([h.id for h in heads]),
                incident_members.c.link.in_(MEMBER_LINKS),
            )
            .order_by(items.c.received_at, items.c.id)
        ):
            self.incidents[row.incident_id].add_row(row)
        for head in heads:
            if not self.incidents[head.id].item_ids:
                del self.incidents[head.id]  # no member left (all rejected): nothing to join

    def _load_echoed(self, mention: Mention) -> None:
        """Bring in the stored posts the mention reposts or quotes, whatever their age."""
        rows = self.conn.execute(
            select(*_MEMBER_COLUMNS, incident_members.c.incident_id, incident_members.c.link)
            .outerjoin(incident_members, incident_members.c.item_id == items.c.id)
            .where(
                items.c.source == mention.source,
                items.c.source_id.in_(sorted(s for _, s in mention.echoes)),
                items.c.clustered_at.is_not(None),
                items.c.id != mention.item_id,
            )
        ).all()
        self._load_incidents(
            r.incident_id for r in rows if r.incident_id is not None and r.link in MEMBER_LINKS
        )
        for row in rows:
            # A member of a resolved incident stays there: the echo then stands alone.
            if row.link not in MEMBER_LINKS and row.id not in self.lone:
                self._add_lone_row(row)

    def candidates(self, mention: Mention) -> list[Candidate]:
        if mention.echoes:
            self._load_echoed(mention)
        groups = [*self.incidents.values(), *self.lone.values()]
        return [
            g.candidate() for g in groups if g.topics & mention.topics or g.posts & mention.echoes
        ]

    def add_lone(self, mention: Mention) -> None:
        group = _Group(None, mention.topics)
        group.add_mention(mention)
        self.lone[mention.item_id] = group

    def join(self, incident_id: int, mention: Mention) -> int:
        group = self.incidents[incident_id]
        group.add_mention(mention)
        self.dirty.add(incident_id)
        return group.member_count

    def open(self, incident_id: int, first: int, mention: Mention) -> int:
        group = self.lone.pop(first)
        group.incident_id = incident_id
        group.add_mention(mention)
        self.incidents[incident_id] = group
        self.dirty.add(incident_id)
        return group.member_count

    def bridge(self, into: int, other: Candidate) -> list[int]:
        """Fold `other` (an open incident or a lone item) into incident `into`; the item
        ids that moved."""
        source = (
            self.incidents.pop(other.incident_id)
            if other.incident_id is not None
            else self.lone.pop(other.item_ids[0])
        )
        self.incidents[into].absorb(source)
        self.dirty.add(into)
        if other.incident_id is not None:
            self.dirty.discard(other.incident_id)
        return list(source.item_ids)

    def still_open(self, candidate: Candidate) -> bool:
        """Whether `candidate` is still a group of its own in this batch."""
        if candidate.incident_id is not None:
            return candidate.incident_id in self.incidents
        return candidate.item_ids[0] in self.lone


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
        pool = _Pool(conn, config, since=_received(rows[0]) - config.longest_window)
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
    pool: _Pool,
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
    pool: _Pool,
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
            _fold(conn, into=into, other_id=other.incident_id, now=now)
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


def _fold(conn: Connection, *, into: int, other_id: int, now: datetime) -> list[int]:
    """Move every stored member row of `other_id` into `into` and leave `other_id` merged,
    pointing at it; the item ids moved. The caller refreshes `into`'s summary."""
    moved = list(
        conn.scalars(
            select(incident_members.c.item_id).where(incident_members.c.incident_id == other_id)
        )
    )
    conn.execute(
        update(incident_members)
        .where(incident_members.c.incident_id == other_id)
        .values(incident_id=into)
    )
    conn.execute(
        update(incidents)
        .where(incidents.c.id == other_id)
        .values(status=IncidentStatus.MERGED, merged_into=into, member_count=0, updated_at=now)
    )
    return moved


def refresh(conn: Connection, incident_id: int, now: datetime) -> int:
    """Summarise the incident from its automatic and confirmed members; their count."""
    members = conn.execute(
        select(items.c.urgency, items.c.topics, items.c.received_at, items.c.place)
        .join(incident_members, incident_members.c.item_id == items.c.id)
        .where(
            incident_members.c.incident_id == incident_id,
            incident_members.c.link.in_(MEMBER_LINKS),
        )
        .order_by(items.c.received_at, items.c.id)
    ).all()
    if not members:
        conn.execute(
            update(incidents)
            .where(incidents.c.id == incident_id)
            .values(member_count=0, updated_at=now)
        )
        return 0
    summary = summarise([(m.urgency, m.topics or (), aware(m.received_at)) for m in members])  # type: ignore[misc]
    first_place = members[0].place or {}
    conn.execute(
        update(incidents)
        .where(incidents.c.id == incident_id)
        .values(
            urgency=summary.urgency,
            urgency_rank=summary.urgency.rank,
            topics=summary.topics,
            first_seen=summary.first_seen,
            last_seen=summary.last_seen,
            member_count=summary.member_count,
            district=first_place.get("district"),
            place=first_place.get("label") or first_place.get("text"),
            updated_at=now,
        )
    )
    return summary.member_count


def _audit(
    conn: Connection,
    item_id: int,
    action: IncidentAction,
    *,
    actor: str,
    now: datetime,
    **details: Any,
) -> None:
    queue_id = conn.scalar(select(items.c.queue_id).where(items.c.id == item_id))
    conn.execute(
        insert(audit).values(
            item_id=item_id,
            queue_id=queue_id,
            at=now,
            actor=actor,
            action=action.value,
            details={k: (v.value if isinstance(v, StrEnum) else v) for k, v in details.items()},
        )
    )


def incident_of(conn: Connection, item_id: int) -> tuple[int, int] | None:
    """The open or resolved incident an item is a member of, and its member count."""
    row = conn.execute(
        select(incidents.c.id, incidents.c.member_count)
        .join(incident_members, incident_members.c.incident_id == incidents.c.id)
        .where(
            incident_members.c.item_id == item_id,
            incident_members.c.link.in_(MEMBER_LINKS),
            incidents.c.status != IncidentStatus.MERGED,
        )
    ).first()
    return (int(row.id), int(row.member_count)) if row is not None else None


def count_open(engine: Engine) -> int:
    """How many incidents are open (the gauge)."""
    with engine.connect() as conn:
        return int(
            conn.scalar(
                select(func.count())
                .select_from(incidents)
                .where(incidents.c.status == IncidentStatus.OPEN)
            )
            or 0
        )


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
        moved = _fold(conn, into=incident_id, other_id=other_id, now=now)
        refresh(conn, incident_id, now)
        for item_id in moved:
            _audit(
                conn,
                item_id,
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
        for item_id in sorted(set(item_ids)):
            _audit(
                conn,
                item_id,
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
        _audit(
            conn,
            item_id,
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
        for item_id in resolved:
            _audit(
                conn,
                item_id,
                IncidentAction.RESOLVED,
                actor=actor.officer_id,
                now=now,
                incident_id=incident_id,
                disposition=disposition,
            )
        return {"resolved": sorted(resolved), "skipped": sorted(set(skipped))}
