"""How a mention's text is represented for clustering: normalisation, the hashed
sparse vector whose cosine measures similarity of meaning, and the 64-bit SimHash
whose Hamming distance finds near-duplicates.

The features are the same family as the classifier's (word unigrams and bigrams,
character 3-5-grams, hashed, TF weighted, L2 normalised). Services never import
each other, and the classifier's are numpy/numba over whole batches, so this is a
small pure-Python form of them. Hashing uses blake2b, not `hash()`, which Python
salts per process: a vector stored by one replica must mean the same to another.

Pure: no database, no HTTP, no Kafka. Nothing here logs text.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping

# A sparse vector: hashed feature index -> weight.
Vector = dict[int, float]

BUCKETS = 1 << 20  # hashed feature space: collisions are rare at mention lengths
SIMHASH_BITS = 64
_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_HANDLE = re.compile(r"(?<!\w)@\w+")
_NOT_WORD = re.compile(r"[^\w#]+")


def normalise(text: str) -> str:
    """Lower case, accents folded, links and @handles removed, punctuation to spaces, a
    leading `RT` dropped; a hashtag is kept as its word (`#Fire` -> `fire`)."""
    text = _HANDLE.sub(" ", _URL.sub(" ", text))
    folded = unicodedata.normalize("NFKD", text.casefold())
    folded = "".join(ch for ch in folded if not unicodedata.combining(ch))
    words = [w.replace("#", "").strip("_") for w in _NOT_WORD.sub(" ", folded).split()]
    words = [w for w in words if w]
    if words[:1] == ["rt"]:  # a retweet's marker says nothing about the event
        words = words[1:]
    return " ".join(words)


def words(normalised: str) -> list[str]:
    """The words of a normalised text."""
    return normalised.split()


def _hash(feature: str) -> int:
    return int.from_bytes(hashlib.blake2b(feature.encode(), digest_size=8).digest(), "big")


def _features(normalised: str) -> Iterable[str]:
    tokens = words(normalised)
    yield from (f"w:{t}" for t in tokens)
    yield from (f"b:{a} {b}" for a, b in itertools.pairwise(tokens))
    for token in tokens:
        padded = f" {token} "
        for n in (3, 4, 5):
            yield from (f"c:{padded[i : i + n]}" for i in range(len(padded) - n + 1))


def vector(normalised: str, *, keep: int | None = None) -> Vector:
    """The text's hashed TF vector, L2 normalised; with `keep`, only its `keep` heaviest
    features (ties by index, so the same text always keeps the same ones), renormalised."""
    counts = Counter(_hash(f) % BUCKETS for f in _features(normalised))
    if keep is not None and len(counts) > keep:
        counts = Counter(dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:keep]))
    return _unit({index: float(count) for index, count in counts.items()})


def _unit(weights: Mapping[int, float]) -> Vector:
    norm = math.sqrt(sum(w * w for w in weights.values()))
    return {i: w / norm for i, w in weights.items()} if norm else {}


def cosine(a: Mapping[int, float], b: Mapping[int, float]) -> float:
    """The cosine of two sparse vectors (0 when either is empty)."""
    if len(a) > len(b):
        a, b = b, a
    dot = sum(w * b.get(i, 0.0) for i, w in a.items())
    norms = math.sqrt(sum(w * w for w in a.values())) * math.sqrt(sum(w * w for w in b.values()))
    return dot / norms if norms else 0.0


class Centroid:
    """The sum of an incident's member vectors and its norm, kept as members arrive: the
    cosine with a new mention costs the mention's length, not the incident's, and adding
    a member costs its own length (the norm is updated, not recomputed)."""

    __slots__ = ("_norm_sq", "_sum")

    def __init__(self) -> None:
        self._sum: dict[int, float] = {}
        self._norm_sq = 0.0

    def add(self, v: Mapping[int, float]) -> None:
        """Take in one member's vector (in place: the incident grew)."""
        total = self._sum
        cross = sum(w * total.get(i, 0.0) for i, w in v.items())
        self._norm_sq += 2 * cross + sum(w * w for w in v.values())
        for i, w in v.items():
            total[i] = total.get(i, 0.0) + w

    def absorb(self, other: Centroid) -> None:
        """Take in every member of `other` (two incidents became one)."""
        self.add(other._sum)  # a sum of members adds like one vector: |a+b|² = |a|²+2a·b+|b|²

    def cosine(self, v: Mapping[int, float], *, v_norm: float | None = None) -> float:
        """The cosine of `v` with the members' mean direction (0 when either is empty);
        `v_norm`, when the caller knows it, saves recomputing `v`'s length per candidate."""
        get = self._sum.get
        dot = sum(w * get(i, 0.0) for i, w in v.items())
        if v_norm is None:
            v_norm = math.sqrt(sum(w * w for w in v.values()))
        norms = math.sqrt(max(self._norm_sq, 0.0)) * v_norm
        return dot / norms if norms > 1e-12 else 0.0


def centroid(vectors: Iterable[Mapping[int, float]]) -> Centroid:
    """The centroid of the vectors: an incident's representative."""
    c = Centroid()
    for v in vectors:
        c.add(v)
    return c


def simhash(normalised: str) -> int:
    """Charikar's 64-bit SimHash over the text's character 3-grams: a text that differs by
    a word or two lands a few bits away (word shingles move too many bits on texts this
    short). Unsigned, 0 <= h < 2**64."""
    shingles = [normalised[i : i + 3] for i in range(len(normalised) - 2)] or [normalised]
    if not normalised:
        return 0
    tally = [0] * SIMHASH_BITS
    for shingle, weight in Counter(shingles).items():
        h = _hash(shingle)
        for bit in range(SIMHASH_BITS):
            tally[bit] += weight if h >> bit & 1 else -weight
    return sum(1 << bit for bit in range(SIMHASH_BITS) if tally[bit] > 0)


def hamming(a: int, b: int) -> int:
    """How many bits two SimHashes differ in."""
    return (a ^ b).bit_count()


def to_signed(h: int) -> int:
    """A 64-bit SimHash as the signed integer a BIGINT column holds."""
    return h - (1 << 64) if h >= 1 << 63 else h


def from_signed(h: int) -> int:
    """The unsigned SimHash back from its BIGINT form."""
    return h + (1 << 64) if h < 0 else h


def place_key(text: str | None) -> str | None:
    """An address or landmark as a comparable key (normalised), or None."""
    key = normalise(text) if text else ""
    return key or None


def distance_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance between two (lat, lon) points, in kilometres."""
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * 6371.0088 * math.asin(math.sqrt(min(1.0, h)))


def dump(v: Mapping[int, float]) -> dict[str, float]:
    """A vector as JSON can hold it (string keys, rounded weights)."""
    return {str(i): round(w, 6) for i, w in sorted(v.items())}


def load(stored: Mapping[str, float] | None) -> Vector:
    """A vector `dump` stored."""
    return {int(i): float(w) for i, w in (stored or {}).items()}
