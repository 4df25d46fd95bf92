"""The clustering stage's working set: open incidents and lone items as groups, read once
per batch and grown in memory as the batch's mentions join them."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Connection,
    select,
)

from switchboard_router.db.engine import aware
from switchboard_router.db.tables import incident_members, incidents, items
from switchboard_router.incidents import similarity
from switchboard_router.incidents.clustering import (
    ECHO_KINDS,
    MEMBER_LINKS,
    Candidate,
    ClusteringConfig,
    IncidentStatus,
    Mention,
    Place,
)


def stored_place(stored: dict[str, Any] | None) -> Place:
    stored = stored or {}
    lat, lon = stored.get("lat"), stored.get("lon")
    return Place(
        districts=frozenset([stored["district"]] if stored.get("district") else []),
        texts=frozenset([stored["text"]] if stored.get("text") else []),
        streets=frozenset([stored["street"]] if stored.get("street") else []),
        points=((float(lat), float(lon)),) if lat is not None and lon is not None else (),
    )


MEMBER_COLUMNS = (
    items.c.id,
    items.c.source,
    items.c.source_id,
    items.c.topics,
    items.c.received_at,
    items.c.simhash,
    items.c.features,
    items.c.place,
    items.c.mention["references"].label("references"),
)


def received(row: Any) -> datetime:
    received = aware(row.received_at)
    assert received is not None  # the column is NOT NULL
    return received


def _echoes_of(row: Any) -> list[tuple[str, str]]:
    """The posts a stored item reposts or quotes, from its stored mention's references."""
    references = row.references if isinstance(row.references, list) else []
    return [
        (row.source, str(r["source_id"]))
        for r in references
        if isinstance(r, dict) and r.get("kind") in ECHO_KINDS and r.get("source_id")
    ]


class Group:
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
        self.echoes: set[tuple[str, str]] = set()
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
        echoes: Iterable[tuple[str, str]],
    ) -> None:
        self.item_ids.append(item_id)
        self.topics |= set(topics)
        self.last_seen = received_at if self.last_seen is None else max(self.last_seen, received_at)
        self.place = self.place.union(place) if self.place.known else place
        self.centroid.add(vector)
        if simhash is not None:
            self.simhashes.append(simhash)
        self.posts.add(post)
        self.echoes.update(echoes)
        self._candidate = None

    def add_row(self, row: Any) -> None:
        self.add(
            row.id,
            topics=row.topics or (),
            received_at=received(row),
            place=stored_place(row.place),
            vector=similarity.load(row.features),
            simhash=similarity.from_signed(row.simhash) if row.simhash is not None else None,
            post=(row.source, row.source_id),
            echoes=_echoes_of(row),
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
            echoes=m.echoes,
        )

    def absorb(self, other: Group) -> None:
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
        self.echoes |= other.echoes
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
                echoes=frozenset(self.echoes),
            )
        return self._candidate


class Pool:
    """The candidates of one batch: the open incidents and lone items of the longest
    window before its oldest mention, read once, kept current as its mentions are linked."""

    def __init__(self, conn: Connection, config: ClusteringConfig, since: datetime) -> None:
        self.conn = conn
        self.incidents: dict[int, Group] = {}
        self.lone: dict[int, Group] = {}
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
            select(*MEMBER_COLUMNS)
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
        group = Group(None, row.topics or ())
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
            self.incidents[head.id] = Group(head.id, head.topics or ())
        for row in self.conn.execute(
            select(incident_members.c.incident_id, *MEMBER_COLUMNS)
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
            select(*MEMBER_COLUMNS, incident_members.c.incident_id, incident_members.c.link)
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
        post = (mention.source, mention.source_id)
        return [
            g.candidate()
            for g in groups
            if g.topics & mention.topics or g.posts & mention.echoes or post in g.echoes
        ]

    def add_lone(self, mention: Mention) -> None:
        group = Group(None, mention.topics)
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
