"""Where a mention happens: a place found in its text, or its own geo point, and the district.

The gazetteer (YAML) names streets (polylines with aliases) and landmarks
(points with aliases); the district map is GeoJSON polygons with a `name`
property. Found in order of precision: an address ("418 Birch St", "the 400
block of Walnut", "calle Elm 14"), an intersection ("5th and Main", "corner
of 4th & Birch", "Maple y 3"), a landmark ("Westgate Mall"), a street named
with its kind ("on Harbor Rd", "calle 8": no point, since a street is a line;
its district when it lies in one), else the mention's geo point. The point is
then placed in a district (shapely).

Street names are one regex, written as a trie of their aliases (about five
times faster in Python's engine than a flat alternation) and matched on
lower-cased text; landmarks are one Aho-Corasick automaton. Pure: no Kafka,
no faust. A demo city is the default: its gazetteer ships with the classifier, its
district map in the common package (`switchboard_shared.districts`), which the
router draws too.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal, NamedTuple

import ahocorasick  # type: ignore[import-untyped,import-not-found,unused-ignore]
import numpy as np
import shapely  # type: ignore[import-untyped,import-not-found,unused-ignore]
import yaml
from shapely.geometry import LineString, Point, shape  # type: ignore[import-untyped,import-not-found,unused-ignore]
from shapely.prepared import prep  # type: ignore[import-untyped,import-not-found,unused-ignore]

from switchboard_shared.districts import shipped_map_text
from switchboard_shared.events import GeoPoint, Location

_CONNECTOR = re.compile(r"\s*(?:and|&|/|at|y|n|con|e)\s*$", re.IGNORECASE)
_NUMBER_BEFORE = re.compile(
    r"(?<![\w.])(\d{1,5})\s+(?:block\s+of\s+|(?:[nsew]\.?|north|south|east|west)\s+)?$",
    re.IGNORECASE,
)
_CALLE_NUMBER = re.compile(r"(?:calle|avenida)\s+$", re.IGNORECASE)
_NUMBER_AFTER = re.compile(r"\s+(\d{1,5})(?!\w)")
_NUMBER_WINDOW = 48  # characters before a street name searched for its house number
# A street alone is a place only when named with its kind ("harbor rd", "calle 8"): a
# bare "main" or "9th" is as often "the main thing" or "my 9th call".
_STREET_KIND = re.compile(
    r"(?<!\w)(?:st|street|rd|road|ave|avenue|blvd|boulevard|ln|lane|dr|drive|way|calle|avenida)(?!\w)"
)


class PlaceError(ValueError):
    """A gazetteer or district map that cannot be used; the message says where."""


@dataclass(frozen=True)
class Street:
    """A named street: its canonical name and its line."""

    name: str
    line: LineString


class Found(NamedTuple):
    """A located mention: the place and the district it falls in (one per mention: a tuple)."""

    location: Location | None
    district: str | None


class Places:
    """A gazetteer and a district map, compiled for fast lookups."""

    def __init__(
        self,
        gazetteer: dict[str, Any],
        districts: dict[str, Any],
        *,
        version: str = "custom",
    ) -> None:
        self.version = version
        try:
            self.block_degrees = float(gazetteer.get("block_degrees", 0.005))
            self.streets: list[Street] = []
            alias_to_street: dict[str, int] = {}
            for index, item in enumerate(gazetteer.get("streets", [])):
                self.streets.append(Street(item["name"], LineString(item["line"])))
                for alias in [item["name"], *item.get("aliases", [])]:
                    alias_to_street[alias.lower()] = index
            self._alias_to_street = alias_to_street
            self._named_with_kind = {
                alias
                for alias, index in alias_to_street.items()
                if _STREET_KIND.search(alias) or alias == self.streets[index].name.lower()
            }
            self._landmarks: list[tuple[str, Point]] = []
            self._automaton = ahocorasick.Automaton()
            for index, item in enumerate(gazetteer.get("landmarks", [])):
                self._landmarks.append((item["name"], Point(item["point"])))
                for alias in [item["name"], *item.get("aliases", [])]:
                    self._automaton.add_word(alias.lower(), (index, len(alias)))
            self._districts = [
                (str(f["properties"]["name"]), prep(shape(f["geometry"])))
                for f in districts.get("features", [])
            ]
            # The same polygons for `districts_of`, which asks GEOS about a whole batch of
            # points in one call per district instead of one call per point.
            self._district_names = [name for name, _ in self._districts]
            self._district_shapes = [shape(f["geometry"]) for f in districts.get("features", [])]
            for polygon in self._district_shapes:
                shapely.prepare(polygon)
            # A street that lies in one district places a mention there; one that
            # crosses several says nothing of the district.
            self._street_district: dict[str, str | None] = {}
            for street_ in self.streets:
                holding = [
                    name
                    for name, polygon in zip(
                        self._district_names, self._district_shapes, strict=True
                    )
                    if polygon.contains(street_.line)
                ]
                self._street_district[street_.name] = holding[0] if len(holding) == 1 else None
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise PlaceError(f"bad gazetteer or district map: {exc!r}") from exc
        if len(self._automaton):
            self._automaton.make_automaton()
        body = _trie_pattern(list(alias_to_street)) if alias_to_street else r"(?!)"
        street = rf"(?<![\w'])(?:{body})(?![\w'])"
        self._street_regex = re.compile(street)  # on lower-cased text
        # for the rare text whose lower case has another length (offsets would move)
        self._street_regex_any_case = re.compile(street, re.IGNORECASE)
        self._crossings: dict[tuple[int, int], Point | None] = {}

    @classmethod
    def load(cls, gazetteer: Path | None = None, districts: Path | None = None) -> Places:
        """The gazetteer and district map at these paths, or the shipped demo city."""
        data = resources.files(__package__).joinpath("data")
        g_text = (
            gazetteer.read_text("utf-8")
            if gazetteer
            else data.joinpath("gazetteer.yaml").read_text("utf-8")
        )
        # The district map is shared with the router (which draws it): it ships in the
        # common package.
        d_text = districts.read_text("utf-8") if districts else shipped_map_text()
        try:
            g = yaml.safe_load(g_text)
            d = json.loads(d_text)
        except (yaml.YAMLError, json.JSONDecodeError) as exc:
            raise PlaceError(f"cannot parse the gazetteer or district map: {exc}") from exc
        if not isinstance(g, dict) or not isinstance(d, dict):
            raise PlaceError("the gazetteer and the district map must be mappings")
        version = str(g.get("version") or g.get("city") or "custom")
        return cls(g, d, version=version)

    def district_of(self, lon: float, lat: float) -> str | None:
        """The district containing the point, if any."""
        point = Point(lon, lat)
        for name, polygon in self._districts:
            if polygon.covers(point):
                return name
        return None

    def districts_of(self, lons: Sequence[float], lats: Sequence[float]) -> list[str | None]:
        """`district_of` for many points: the first district covering each, in one pass each."""
        points = shapely.points(
            np.asarray(lons, dtype=np.float64), np.asarray(lats, dtype=np.float64)
        )
        names: list[str | None] = [None] * len(points)
        undecided = np.arange(len(points))
        for name, polygon in zip(self._district_names, self._district_shapes, strict=True):
            if not len(undecided):
                break
            inside = shapely.covers(polygon, points[undecided])
            for index in undecided[inside].tolist():
                names[index] = name
            undecided = undecided[~inside]
        return names

    def _crossing(self, a: int, b: int) -> Point | None:
        key = (min(a, b), max(a, b))
        if key not in self._crossings:
            where = self.streets[a].line.intersection(self.streets[b].line)
            self._crossings[key] = (
                where
                if isinstance(where, Point) and not where.is_empty
                else (where.representative_point() if not where.is_empty else None)
            )
        return self._crossings[key]

    def _along(self, street: int, number: int) -> Point | None:
        line = self.streets[street].line
        distance = number / 100 * self.block_degrees
        return line.interpolate(distance) if distance <= line.length else None

    def _from_text(self, text: str) -> Location | None:
        lowered = text.lower()
        if len(lowered) == len(text):
            matches = list(self._street_regex.finditer(lowered))
        else:
            lowered = text
            matches = list(self._street_regex_any_case.finditer(text))
        best: Location | None = None
        named: int | None = None  # the first street named with its kind
        for i, m in enumerate(matches):
            alias = " ".join(m.group(0).lower().split())
            street = self._alias_to_street[alias]
            if named is None and alias in self._named_with_kind:
                named = street
            # A house number sits just before the street name: search the last few words
            # only (the look-behind still sees the character before the window).
            window = max(0, m.start() - _NUMBER_WINDOW)
            before = text[window : m.start()]
            number = _NUMBER_BEFORE.search(text, window, m.start())
            if number is None and _CALLE_NUMBER.search(before):
                number = _NUMBER_AFTER.match(text, m.end())
                span = (m.start(), number.end()) if number else None
            else:
                span = (number.start(), m.end()) if number else None
            if number and span:
                point = self._along(street, int(number.group(1)))
                return _location(
                    text[span[0] : span[1]], "address", point, street=self.streets[street].name
                )
            if best is None and i + 1 < len(matches):
                nxt = matches[i + 1]
                if _CONNECTOR.match(text[m.end() : nxt.start()]):
                    other = self._alias_to_street[" ".join(nxt.group(0).lower().split())]
                    if other != street:
                        point = self._crossing(street, other)
                        best = _location(text[m.start() : nxt.end()], "intersection", point)
        if best is not None:
            return best
        if len(self._automaton):
            for end, (index, length) in self._automaton.iter_long(lowered):
                start = end - length + 1
                before_ok = start == 0 or not lowered[start - 1].isalnum()
                after_ok = end + 1 == len(lowered) or not lowered[end + 1].isalnum()
                if before_ok and after_ok:
                    name, point = self._landmarks[index]
                    return _location(name, "landmark", point)
        if named is not None:
            name = self.streets[named].name
            return Location(text=name, how="street", street=name)
        return None

    def _location(self, text: str, geo: GeoPoint | None) -> Location | None:
        location = self._from_text(text)
        if location is None and geo is not None:
            location = Location(
                text=f"{geo.lat:.5f},{geo.lon:.5f}", how="geo", lat=geo.lat, lon=geo.lon
            )
        return location

    def locate(self, text: str, geo: GeoPoint | None = None, district: str | None = None) -> Found:
        """A place from the text, else the geo point; and its district (else the stated one)."""
        location = self._location(text, geo)
        if location is not None and location.lat is not None and location.lon is not None:
            return Found(location, self.district_of(location.lon, location.lat) or district)
        return Found(location, self._street_district_of(location) or district)

    def _street_district_of(self, location: Location | None) -> str | None:
        if location is None or location.how != "street" or location.street is None:
            return None
        return self._street_district.get(location.street)

    def locate_many(
        self,
        texts: Sequence[str],
        geos: Sequence[GeoPoint | None],
        districts: Sequence[str | None],
    ) -> list[Found]:
        """`locate` over a batch, with the districts of all its points found together."""
        locations = [self._location(t, g) for t, g in zip(texts, geos, strict=True)]
        found = [
            Found(location, self._street_district_of(location) or district)
            for location, district in zip(locations, districts, strict=True)
        ]
        placed: list[int] = []
        lons: list[float] = []
        lats: list[float] = []
        for i, location in enumerate(locations):
            if location is not None and location.lat is not None and location.lon is not None:
                placed.append(i)
                lons.append(location.lon)
                lats.append(location.lat)
        if placed:
            for i, name in zip(placed, self.districts_of(lons, lats), strict=True):
                if name:
                    found[i] = Found(locations[i], name)
        return found


def _trie_pattern(aliases: list[str]) -> str:
    """One alternation of the aliases, factored by common prefixes; longer aliases win."""
    trie: dict[str, Any] = {}
    for alias in aliases:
        node = trie
        for char in alias:
            node = node.setdefault(char, {})
        node[""] = {}

    def build(node: dict[str, Any]) -> str:
        branches = [
            (r"\s+" if char == " " else re.escape(char)) + build(node[char])
            for char in sorted(k for k in node if k)
        ]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        # greedy: the longer alias is tried first, the shorter one is the fallback
        return f"(?:{body})?" if "" in node else body

    return build(trie)


def _location(
    text: str,
    how: Literal["address", "intersection", "landmark"],
    point: Point | None,
    *,
    street: str | None = None,
) -> Location:
    if point is None:
        return Location(text=text, how=how, street=street)
    return Location(text=text, how=how, lat=round(point.y, 6), lon=round(point.x, 6), street=street)
