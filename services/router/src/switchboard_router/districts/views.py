"""District route: the district map with the caller's open items per district."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from switchboard_router.districts import service
from switchboard_router.districts.schemas import DistrictMap
from switchboard_router.http import call, errors
from switchboard_router.people.deps import CurrentCaller, EngineDep, PoliciesDep

router = APIRouter()


def _district_map(request: Request) -> dict[str, Any]:
    # Loaded once at start-up from SWITCHBOARD_ROUTER_DISTRICTS_PATH (bootstrap).
    district_map: dict[str, Any] = request.app.state.district_map
    return district_map


@router.get("/v1/districts", summary="The district map with open items", responses=errors())
async def get_districts(
    request: Request, caller: CurrentCaller, engine: EngineDep, policies: PoliciesDep
) -> DistrictMap:
    """The configured district map (GeoJSON) the console draws; each district's
    `properties.open_items` counts the open items there that you may see."""
    counts = await call(service.open_items_by_district, engine, actor=caller)
    counted = service.counted_map(
        _district_map(request), counts, spellings=policies.current().districts
    )
    return DistrictMap.model_validate(counted)
