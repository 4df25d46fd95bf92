"""Districts: open items counted per district of the map, for one caller.

An item's district is the classifier's placement where the store keeps it
(`items.place` JSON, which the incidents' clustering adds), else the one its
mention states (`items.mention` JSON, `district`): the router stores the
mention as received, and without `items.place` not the classifier's verdict.
A stated name is matched to a map district ignoring case, spaces and
punctuation, and through the routing policy's `districts` spellings ("Harbour"
is the map's "Harbor"). Counting is one grouped query over open items the caller
may see (`visible_item_filter`: their queues and watch copies), so an item in a
queue the caller cannot see is never counted.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from sqlalchemy import ColumnElement, Engine, func, select

from switchboard_router.db.tables import items
from switchboard_router.items.status import ItemStatus
from switchboard_router.items.steps import visible_item_filter
from switchboard_router.people.security import Principal
from switchboard_router.routing.rules import district_key


def _district_of_item() -> ColumnElement[str]:
    stated: ColumnElement[str] = items.c.mention["district"].as_string()
    if "place" not in items.c:
        return stated
    # The classifier's district (what routing used) where it was stored, else the stated one.
    placed: ColumnElement[str] = items.c["place"]["district"].as_string()
    return func.coalesce(placed, stated)


def open_items_by_district(engine: Engine, *, actor: Principal) -> dict[str | None, int]:
    """Open items the caller may see, counted by their district's name as stored."""
    district = _district_of_item()
    query = (
        select(district.label("district"), func.count().label("open_items"))
        .where(items.c.status == ItemStatus.OPEN, visible_item_filter(actor))
        .group_by(district)
    )
    with engine.connect() as connection:
        return {row.district: row.open_items for row in connection.execute(query)}


def counted_map(
    district_map: Mapping[str, Any],
    counts: Mapping[str | None, int],
    *,
    spellings: Mapping[str, str],
) -> dict[str, Any]:
    """A copy of the map whose features' properties gain `open_items` and `district_id`
    (the policy's id of the district, else its name as a key), and the open items no
    feature takes as `unmapped_open_items`.

    `spellings` is the policy's district key -> district id: both the stated names and
    the map's names go through it, so either side may use another spelling.
    """

    def canonical(name: str) -> str:
        key = district_key(name)
        return spellings.get(key, key)

    out = copy.deepcopy(dict(district_map))
    features = out.get("features", [])
    by_key = {canonical(str(f["properties"]["name"])): f for f in features}
    for key, feature in by_key.items():
        # The id other records name the district by (an incident's `district`, say).
        feature["properties"]["district_id"] = key
        feature["properties"]["open_items"] = 0
    unmapped = 0
    for stated, n in counts.items():
        feature = by_key.get(canonical(stated)) if stated else None
        if feature is None:
            unmapped += n
        else:
            feature["properties"]["open_items"] += n
    out["unmapped_open_items"] = unmapped
    return out
