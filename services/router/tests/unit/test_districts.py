"""The district map with counts: stated names matched to the map's districts (case,
punctuation and the policy's spellings ignored), the rest counted as unmapped."""

import pytest

from switchboard_router.districts.service import counted_map
from switchboard_router.routing.policy import Policy
from switchboard_shared.districts import DistrictMapError, load_map, shipped_map


def test_the_shipped_map_is_the_classifiers_demo_city():
    names = [f["properties"]["name"] for f in shipped_map()["features"]]
    assert names == ["Harbor", "Downtown", "Eastside", "Northside"]


def test_counts_land_on_their_district_through_any_spelling():
    spellings = Policy.load().districts  # harbor: [harbour]
    counts = {"Harbor": 2, "harbour": 1, "DOWN-TOWN": 4, "Central": 3, None: 5}
    counted = counted_map(shipped_map(), counts, spellings=spellings)
    by_name = {f["properties"]["name"]: f["properties"]["open_items"] for f in counted["features"]}
    # "DOWN-TOWN" is not "downtown" once punctuation becomes a dash: it stays unmapped.
    assert by_name == {"Harbor": 3, "Downtown": 0, "Eastside": 0, "Northside": 0}
    assert counted["unmapped_open_items"] == 4 + 3 + 5
    ids = [f["properties"]["district_id"] for f in counted["features"]]
    assert ids == ["harbor", "downtown", "eastside", "northside"]


def test_counting_leaves_the_loaded_map_untouched():
    district_map = shipped_map()
    counted_map(district_map, {"Harbor": 1}, spellings={})
    assert "open_items" not in district_map["features"][0]["properties"]


def test_a_map_whose_feature_has_no_name_is_refused_naming_the_feature(tmp_path):
    path = tmp_path / "districts.geojson"
    path.write_text(
        '{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {},'
        ' "geometry": {"type": "Polygon", "coordinates": []}}]}'
    )
    with pytest.raises(DistrictMapError, match=r"features\[0\]\.properties\.name"):
        load_map(path)


def test_a_map_that_is_not_a_feature_collection_is_refused(tmp_path):
    path = tmp_path / "districts.geojson"
    path.write_text('{"type": "Feature"}')
    with pytest.raises(DistrictMapError, match="FeatureCollection"):
        load_map(path)
