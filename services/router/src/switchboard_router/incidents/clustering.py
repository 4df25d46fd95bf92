"""The clustering decision: which incident (or lone item) a new mention joins, and how.

In order of strength:
- `reference`: the mention reposts or quotes (by platform id) a stored mention; it joins
  that mention's incident, automatically, whatever its text, place or age.
- `near_duplicate`: its SimHash is within `near_duplicate_bits` of a member's, in the
  topic's window, and the places do not contradict each other (both known and different).
- `similar`: it shares a topic, falls in the topic's window, is in the same place (same
  district, points within `radius_km`, or the same address/landmark text), and the cosine
  of its vector with the candidate's centroid (plus `place_bonus` for the same address)
  reaches `attach` (automatic) or `suggest` (a person confirms).
A text shorter than `min_words_automatic` words is never linked automatically except by
reference (it may be suggested). A suggestion is only made to an incident: a lone item
and a new mention open one only when linked automatically. The best candidate wins: strongest link, then reason,
then score, then incidents before lone items, then the lowest id, so the same input
gives the same answer whatever order the candidates came in.

Pure: no database, no HTTP, no Kafka.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from switchboard_router.incidents import similarity
from switchboard_shared.config_files import parse_yaml, text_or_shipped
from switchboard_shared.events import Urgency


class Link(StrEnum):
    """How a member belongs to its incident."""

    AUTOMATIC = "automatic"
    SUGGESTED = "suggested"
    CONFIRMED = "confirmed"
    REJECTED = "rejected"


# The reference kinds that make a post an echo of another (a reply is a conversation).
ECHO_KINDS = ("repost", "quote")

# The links that make an item a member (counted in member_count, drive urgency).
MEMBER_LINKS = (Link.AUTOMATIC, Link.CONFIRMED)


class LinkReason(StrEnum):
    """Why a mention was linked."""

    REFERENCE = "reference"
    NEAR_DUPLICATE = "near_duplicate"
    SIMILAR = "similar"


class IncidentStatus(StrEnum):
    """Where an incident stands; a merged one lives on only as a pointer."""

    OPEN = "open"
    RESOLVED = "resolved"
    MERGED = "merged"


class ConfigError(ValueError):
    """The incidents file is not valid; the message names the field."""


class ClusteringConfig(BaseModel):
    """The thresholds and windows of `incidents.yaml`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: Annotated[str, Field(min_length=1, max_length=64)]
    attach: Annotated[float, Field(gt=0, le=1)] = 0.45
    suggest: Annotated[float, Field(gt=0, le=1)] = 0.25
    place_bonus: Annotated[float, Field(ge=0, le=1)] = 0.10
    unplaced_penalty: Annotated[float, Field(ge=0, le=1)] = 0.0
    # Topics that say what a post is, not what happened: two questions or two compliments
    # about the harbour are not one event, and a report tagged so must not draw them in.
    not_event_topics: frozenset[str] = frozenset(
        {"irrelevant", "information_request", "praise", "community_support"}
    )
    near_duplicate_bits: Annotated[int, Field(ge=0, le=16)] = 3
    min_words_automatic: Annotated[int, Field(ge=0, le=50)] = 4
    radius_km: Annotated[float, Field(ge=0, le=100)] = 1.0
    windows_minutes: dict[str, Annotated[float, Field(gt=0, le=7 * 24 * 60)]] = Field(
        default_factory=lambda: {"default": 60.0}
    )
    features_kept: Annotated[int, Field(ge=16, le=4096)] = 256
    max_candidates: Annotated[int, Field(ge=1, le=10_000)] = 300
    # Word lists that carry a mention in another language into English before it is
    # compared, so that a Spanish report of a fire meets the English ones: language ->
    # a file of that name beside the incidents file, else the one shipped with it.
    glossary_files: dict[str, Annotated[str, Field(pattern=r"^[\w.-]+\.ya?ml$")]] = Field(
        default_factory=dict
    )
    # Filled by `load` from `glossary_files`: language -> word -> English words.
    glossaries: dict[str, dict[str, str]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _ordered(self) -> ClusteringConfig:
        if self.suggest > self.attach:
            raise ValueError("suggest: must not exceed attach")
        if "default" not in self.windows_minutes:
            raise ValueError("windows_minutes.default: required")
        return self

    def window(self, topics: Iterable[str]) -> timedelta:
        """The longest window among `topics` (the default for a topic not listed)."""
        minutes = [self.windows_minutes.get(t, self.windows_minutes["default"]) for t in topics]
        return timedelta(minutes=max(minutes, default=self.windows_minutes["default"]))

    @property
    def longest_window(self) -> timedelta:
        return timedelta(minutes=max(self.windows_minutes.values()))

    @classmethod
    def parse(cls, text: str) -> ClusteringConfig:
        data = parse_yaml(text, ConfigError)
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "incidents"
            raise ConfigError(f"{where}: {first['msg']}") from exc

    @classmethod
    def load(cls, path: Path | None = None) -> ClusteringConfig:
        """The file at `path`, or the shipped `incidents.yaml`, with its glossaries."""
        package = __package__ or ""
        config = cls.parse(text_or_shipped(path, package=package, name="incidents.yaml"))
        glossaries: dict[str, dict[str, str]] = {}
        for language, name in sorted(config.glossary_files.items()):
            where = f"glossary_files.{language}"
            # A file of that name beside the incidents file, else the shipped one (an
            # agency's own incidents.yaml keeps the shipped Spanish glossary).
            beside = path.parent / name if path is not None else None
            if beside is not None and not beside.exists():
                beside = None
            try:
                text = text_or_shipped(beside, package=package, name=name)
            except OSError as exc:
                raise ConfigError(f"{where}: cannot read {name}: {exc.strerror or exc}") from exc
            words = (parse_yaml(text, ConfigError) or {}).get("words")
            if not isinstance(words, dict) or not all(
                isinstance(k, str) and isinstance(v, str) and k and v for k, v in words.items()
            ):
                raise ConfigError(f"{where}: {name} must map words to words under `words`")
            glossaries[language] = {
                similarity.normalise(k): similarity.normalise(v) for k, v in words.items()
            }
        return config.model_copy(update={"glossaries": glossaries})

    def in_english(self, normalised: str, language: str | None) -> str:
        """A normalised text with its words carried into English by the glossary of its
        language (unchanged when there is none): what its vector is made of."""
        words = self.glossaries.get(language or "")
        if not words:
            return normalised
        return " ".join(words.get(w, w) for w in normalised.split())


@dataclass(frozen=True)
class Place:
    """Where a mention (or a candidate's members) places the event."""

    districts: frozenset[str] = frozenset()
    texts: frozenset[str] = frozenset()  # normalised addresses / landmarks / streets
    points: tuple[tuple[float, float], ...] = ()
    # Normalised names of the streets its addresses and streets are on: "300 Harbor Rd"
    # and "a fire on Harbor Road" name one street, which earns the place bonus; but two
    # addresses far apart on one long street still contradict (`near`).
    streets: frozenset[str] = frozenset()

    @property
    def known(self) -> bool:
        return bool(self.districts or self.texts or self.points)

    def same_text(self, other: Place) -> bool:
        return bool(self.texts & other.texts)

    def same_name(self, other: Place) -> bool:
        """Both name the same address, landmark or street (the score's place bonus)."""
        return self.same_text(other) or bool(self.streets & other.streets)

    def near(self, other: Place, radius_km: float) -> bool:
        """Same district, same address/landmark, two points within the radius, or one
        street when one side has no point."""
        if self.districts & other.districts or self.same_text(other):
            return True
        if self.streets & other.streets and not (self.points and other.points):
            return True  # a street named alone is anywhere along it
        return any(
            similarity.distance_km(a, b) <= radius_km for a in self.points for b in other.points
        )

    def union(self, other: Place) -> Place:
        return Place(
            self.districts | other.districts,
            self.texts | other.texts,
            tuple(sorted(set(self.points) | set(other.points))),
            self.streets | other.streets,
        )


@dataclass(frozen=True)
class Mention:
    """What clustering knows of a new item."""

    item_id: int
    source: str
    source_id: str
    received_at: datetime
    urgency: Urgency
    topics: frozenset[str]
    place: Place
    vector: similarity.Vector
    simhash: int
    word_count: int
    # (source, source_id) of the posts it reposts or quotes.
    echoes: frozenset[tuple[str, str]] = frozenset()

    @functools.cached_property
    def vector_norm(self) -> float:
        """The vector's length, once: the mention is compared with every candidate."""
        return math.sqrt(sum(w * w for w in self.vector.values()))


@dataclass(frozen=True)
class Candidate:
    """An open incident, or a lone stored item, a mention may join."""

    incident_id: int | None  # None: a lone item (`item_ids` has exactly it)
    item_ids: tuple[int, ...]
    topics: frozenset[str]
    last_seen: datetime
    place: Place
    # The centroid of its members' vectors. Mutable, for speed: the clustering stage adds
    # members in place and builds a new Candidate around it after each link.
    vector: similarity.Centroid
    simhashes: tuple[int, ...]
    posts: frozenset[tuple[str, str]]  # (source, source_id) of its members
    # (source, source_id) of the posts its members repost or quote: a post stored after
    # its quote finds the quote through this (the echo is then linked both ways).
    echoes: frozenset[tuple[str, str]] = frozenset()

    @property
    def order(self) -> tuple[int, int]:
        """Incidents first, then lone items; lowest id first."""
        if self.incident_id is not None:
            return (0, self.incident_id)
        return (1, self.item_ids[0])


@dataclass(frozen=True)
class Decision:
    """Where a mention goes: the candidate, the link, why and how strongly."""

    candidate: Candidate
    link: Link
    reason: LinkReason
    score: float


_LINK_RANK = {Link.AUTOMATIC: 2, Link.SUGGESTED: 1}
_REASON_RANK = {LinkReason.REFERENCE: 3, LinkReason.NEAR_DUPLICATE: 2, LinkReason.SIMILAR: 1}


def judge(mention: Mention, candidate: Candidate, config: ClusteringConfig) -> Decision | None:
    """How `mention` would join `candidate`, or None."""
    if mention.echoes & candidate.posts or (mention.source, mention.source_id) in candidate.echoes:
        return Decision(candidate, Link.AUTOMATIC, LinkReason.REFERENCE, 1.0)
    shared = (mention.topics & candidate.topics) - config.not_event_topics
    if not shared:
        return None
    age = mention.received_at - candidate.last_seen
    if age > config.window(shared):
        return None
    long_enough = mention.word_count >= config.min_words_automatic
    both_placed = mention.place.known and candidate.place.known
    if both_placed and not mention.place.near(candidate.place, config.radius_km):
        return None  # two places that contradict each other are two events
    nearest = min((similarity.hamming(mention.simhash, h) for h in candidate.simhashes), default=64)
    if nearest <= config.near_duplicate_bits:
        score = 1.0 - nearest / similarity.SIMHASH_BITS
        if long_enough:
            return Decision(candidate, Link.AUTOMATIC, LinkReason.NEAR_DUPLICATE, score)
        return _suggested(candidate, LinkReason.NEAR_DUPLICATE, score)
    score = candidate.vector.cosine(mention.vector, v_norm=mention.vector_norm)
    if mention.place.same_name(candidate.place):
        score += config.place_bonus
    elif not both_placed:
        score -= config.unplaced_penalty
    score = round(min(score, 1.0), 6)
    if score >= config.attach and long_enough:
        return Decision(candidate, Link.AUTOMATIC, LinkReason.SIMILAR, score)
    if score >= config.suggest:
        return _suggested(candidate, LinkReason.SIMILAR, score)
    return None


def _suggested(candidate: Candidate, reason: LinkReason, score: float) -> Decision | None:
    # A suggestion is shown on an incident for a person to confirm; two lone items only
    # ever open one automatically (an incident has at least two automatic or confirmed
    # members), so a suggestion to a lone item is no link.
    if candidate.incident_id is None:
        return None
    return Decision(candidate, Link.SUGGESTED, reason, score)


def decide(
    mention: Mention, candidates: Iterable[Candidate], config: ClusteringConfig
) -> Decision | None:
    """The best way for `mention` to join one of `candidates`, or None: a new lone item."""
    judged = [d for c in candidates if (d := judge(mention, c, config)) is not None]
    if not judged:
        return None
    return min(
        judged,
        key=lambda d: (
            -_LINK_RANK[d.link],
            -_REASON_RANK[d.reason],
            -d.score,
            d.candidate.order,
        ),
    )


def highest(urgencies: Iterable[Urgency | str]) -> Urgency:
    """The most urgent of the members' urgencies (an incident's urgency)."""
    return min((Urgency(u) for u in urgencies), key=lambda u: u.rank, default=Urgency.LOW)


@dataclass
class Grown:
    """An incident's summary as its members arrive (pure bookkeeping)."""

    urgency: Urgency
    topics: list[str]
    first_seen: datetime
    last_seen: datetime
    member_count: int


def summarise(members: Sequence[tuple[Urgency | str, Iterable[str], datetime]]) -> Grown:
    """An incident's urgency, topics and time bounds from its (automatic/confirmed)
    members' urgency, topics and received_at."""
    if not members:
        raise ValueError("an incident has at least one member")
    topics = sorted({t for _, ts, _ in members for t in ts})
    times = [at for _, _, at in members]
    return Grown(
        urgency=highest(u for u, _, _ in members),
        topics=topics,
        first_seen=min(times),
        last_seen=max(times),
        member_count=len(members),
    )
