import pytest

from switchboard_classifier.place import PlaceError, Places
from switchboard_shared.events import GeoPoint


@pytest.fixture(scope="module")
def places():
    return Places.load()


@pytest.mark.parametrize(
    ("text", "how", "where", "district"),
    [
        (
            "someone just got shot outside the Shell on 5th and Main",
            "intersection",
            "5th and Main",
            "Harbor",
        ),
        (
            "what's going on at the corner of 4th & Birch?",
            "intersection",
            "4th & Birch",
            "Northside",
        ),
        ("my ex is outside with a gun, 1200 Walnut apt 3", "address", "1200 Walnut", "Eastside"),
        (
            "street lights out on the 400 block of Walnut",
            "address",
            "400 block of Walnut",
            "Downtown",
        ),
        ("mi papá no respira, estamos en la calle Elm 14", "address", "Elm 14", "Downtown"),
        ("ACTIVE SHOOTER AT WESTGATE MALL", "landmark", "Westgate Mall", "Northside"),
    ],
)
def test_places_are_found_in_text_and_put_in_a_district(places, text, how, where, district):
    found = places.locate(text)
    assert found.location is not None
    assert (found.location.how, found.location.text, found.district) == (how, where, district)
    assert found.location.lat is not None and found.location.lon is not None


def test_the_geo_point_is_used_when_the_text_names_no_place(places):
    found = places.locate("help, my dad is not breathing", GeoPoint(lat=40.05, lon=-74.96))
    assert found.location is not None and found.location.how == "geo"
    assert found.district == "Northside"


def test_no_place_and_no_geo_keeps_the_stated_district(places):
    found = places.locate("lovely sunset tonight", None, "east")
    assert (found.location, found.district) == (None, "east")


def test_words_that_merely_contain_a_landmark_are_not_landmarks(places):
    assert places.locate("the kroger-like store").location is not None
    assert places.locate("krogerville is far away").location is None


def test_a_broken_gazetteer_is_refused(tmp_path):
    bad = tmp_path / "g.yaml"
    bad.write_text("streets: [{aliases: [x]}]\n")
    with pytest.raises(PlaceError):
        Places.load(bad)


def test_street_aliases_become_one_trie_where_the_longest_alias_wins():
    import re

    from switchboard_classifier.place import _trie_pattern

    pattern = re.compile(
        rf"(?<!\w)(?:{_trie_pattern(['5th', '5th st', 'fifth ave', 'fifth'])})(?!\w)"
    )
    assert [m.group(0) for m in pattern.finditer("at 5th  st, then fifth ave and fifth")] == [
        "5th  st",
        "fifth ave",
        "fifth",
    ]
    assert pattern.search("5thx") is None and pattern.search("15th") is None


def test_a_batch_finds_the_districts_that_one_mention_at_a_time_finds(places, gold_texts):
    # locate_many asks GEOS about all of a batch's points at once; the answers must be
    # locate's, mention by mention: on the gold texts, geo points and district edges.
    import random

    texts = list(gold_texts)
    rnd = random.Random(4)
    geos = [
        GeoPoint(lat=rnd.uniform(39.97, 40.07), lon=rnd.uniform(-75.02, -74.92))
        if i % 3 == 0
        else None
        for i in range(len(texts))
    ]
    stated = ["east" if i % 2 else None for i in range(len(texts))]
    batch = places.locate_many(texts, geos, stated)
    assert batch == [places.locate(t, g, d) for t, g, d in zip(texts, geos, stated, strict=True)]
    assert sum(f.district not in (None, "east") for f in batch) > 100
    corners = [xy for _, polygon in places._districts for xy in polygon.context.exterior.coords]
    lons, lats = [x for x, _ in corners], [y for _, y in corners]
    assert places.districts_of(lons, lats) == [places.district_of(x, y) for x, y in corners]


def test_a_street_named_with_its_kind_is_a_place_with_the_district_it_lies_in(places):
    found = places.locate("warehouse on harbor rd on fire, flames everywhere")
    assert found.location is not None
    assert (found.location.how, found.location.text, found.location.street) == (
        "street",
        "Harbor Road",
        "Harbor Road",
    )
    assert (found.location.lat, found.location.lon) == (None, None)  # a street is a line
    assert found.district == "Harbor"  # Harbor Road lies in Harbor only
    spanish = places.locate("se está quemando una bodega en Harbor Road")
    assert spanish.location is not None and spanish.location.street == "Harbor Road"


def test_a_street_that_crosses_districts_places_no_district(places):
    found = places.locate("water main break on 11th Street, water everywhere", None, "stated")
    assert found.location is not None and found.location.how == "street"
    assert found.district == "stated"  # 11th Street runs through several districts


def test_a_bare_street_alias_without_its_kind_is_not_a_place(places):
    for text in ("this is my 9th call about it", "the main thing is nobody is hurt"):
        assert places.locate(text).location is None, text


def test_an_address_names_its_street_and_a_batch_places_a_street_as_one_at_a_time_does(places):
    found = places.locate("Fire at 300 Harbor Rd warehouse")
    assert found.location is not None and found.location.how == "address"
    assert found.location.street == "Harbor Road"
    texts = ["fire on Harbor Road", "loud music on Main St", "crash on 11th Street"]
    batch = places.locate_many(texts, [None] * 3, [None] * 3)
    assert batch == [places.locate(t) for t in texts]
    assert [f.district for f in batch] == ["Harbor", "Harbor", None]
