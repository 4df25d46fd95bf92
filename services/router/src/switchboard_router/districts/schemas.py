"""The district route's response models: a GeoJSON FeatureCollection with counts."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field


class DistrictFeature(BaseModel):
    """One district: its polygon and properties, `open_items` among them."""

    type: Literal["Feature"] = "Feature"
    properties: dict[str, Any] = Field(
        description="The map's properties (`name`, ...) plus `district_id` (the routing "
        "policy's id of the district, else its name lower-cased with dashes) and `open_items`: "
        "open items in the district that the caller may see."
    )
    geometry: dict[str, Any]


class DistrictMap(BaseModel):
    """The configured district map as GeoJSON, counted for the caller."""

    type: Literal["FeatureCollection"] = "FeatureCollection"
    name: str | None = None
    features: list[DistrictFeature]
    unmapped_open_items: int = Field(
        description="Open items the caller may see whose district is none of the map's "
        "(none stated, or one the map does not draw)."
    )
