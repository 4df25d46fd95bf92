"""The district map (GeoJSON polygons with a `name` property) every service draws or
places mentions in.

One copy ships here, as package data, because the classifier places mentions in
districts and the router draws the same districts on the console: services never
import each other, so the map they must agree on lives in the common package.
Each service takes a path setting; unset means this shipped demo city.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

SHIPPED_NAME = "districts.geojson"


class DistrictMapError(ValueError):
    """A district map that cannot be used; the message says why."""


def shipped_map_text() -> str:
    """The GeoJSON text of the shipped demo city's districts."""
    return resources.files(__package__).joinpath("data", SHIPPED_NAME).read_text("utf-8")


def load_map(path: Path | None = None) -> dict[str, Any]:
    """The FeatureCollection at `path` (else the shipped one), checked: every feature has a
    distinct `name` and a Polygon or MultiPolygon geometry."""
    text = shipped_map_text() if path is None else path.read_text("utf-8")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DistrictMapError(f"district map: not JSON: {exc}") from exc
    if not isinstance(data, dict) or data.get("type") != "FeatureCollection":
        raise DistrictMapError("district map: must be a GeoJSON FeatureCollection")
    features = data.get("features")
    if not isinstance(features, list):
        raise DistrictMapError("district map: features must be a list")
    names: set[str] = set()
    for index, feature in enumerate(features):
        where = f"district map: features[{index}]"
        properties = feature.get("properties") if isinstance(feature, dict) else None
        name = properties.get("name") if isinstance(properties, dict) else None
        if not isinstance(name, str) or not name.strip():
            raise DistrictMapError(f"{where}.properties.name: a non-empty string is required")
        if name in names:
            raise DistrictMapError(f"{where}.properties.name: {name!r} appears twice")
        names.add(name)
        geometry = feature.get("geometry")
        if not isinstance(geometry, dict) or geometry.get("type") not in (
            "Polygon",
            "MultiPolygon",
        ):
            raise DistrictMapError(f"{where}.geometry: a Polygon or MultiPolygon is required")
    return data


def shipped_map() -> dict[str, Any]:
    """The shipped demo city's district map, parsed and checked."""
    return load_map(None)
