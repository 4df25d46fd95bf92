"""What the consumer hands the clustering stage from a classified event: the place the
classifier found (else the mention's own), and the posts the mention echoes."""

from datetime import UTC, datetime

from switchboard_router.incidents.stage import Arrival
from switchboard_shared.events import (
    Classification,
    Location,
    MentionClassified,
    MentionIn,
    Reference,
    Urgency,
)

arrival = Arrival.of


def event(*, location=None, district=None, geo=None, mention_district=None, references=()):
    mention = MentionIn(
        source="x",
        source_id="p1",
        text="Fire at the warehouse on Dock Street",
        created_at=datetime(2026, 12, 4, tzinfo=UTC),
        geo=geo,
        district=mention_district,
        references=references,
    )
    return MentionClassified(
        mention_id=mention.mention_id,
        received_at=datetime(2026, 12, 4, tzinfo=UTC),
        mention=mention,
        classification=Classification(
            urgency=Urgency.HIGH,
            score=0.9,
            topics=("fire",),
            ruleset_version="r1",
            location=location,
            district=district,
        ),
    )


def test_the_classifiers_address_and_point_and_district_are_the_place():
    found = Location(text="Dock Street", how="address", lat=51.5, lon=-0.1)
    a = arrival(7, event(location=found, district="harbour", mention_district="other"))
    assert (a.item_id, a.district, a.place_text, a.lat, a.lon) == (
        7,
        "harbour",
        "Dock Street",
        51.5,
        -0.1,
    )


def test_a_street_named_alone_is_a_named_place_without_a_point_and_keeps_its_street():
    street = Location(text="Dock Street", how="street", street="Dock Street")
    a = arrival(3, event(location=street, district="harbour"))
    assert (a.place_text, a.street, a.lat, a.lon, a.district) == (
        "Dock Street",
        "Dock Street",
        None,
        None,
        "harbour",
    )


def test_a_geo_point_is_a_point_not_an_address_and_the_mentions_own_fills_gaps():
    point = Location(text="51.5,-0.1", how="geo")
    a = arrival(1, event(location=point, geo={"lat": 40.0, "lon": 3.0}, mention_district="d9"))
    assert (a.place_text, a.lat, a.lon, a.district) == (None, 40.0, 3.0, "d9")
    assert (arrival(1, event()).lat, arrival(1, event()).district) == (None, None)


def test_reposts_and_quotes_are_echoes_and_replies_are_not():
    refs = (
        Reference(kind="repost", source_id="a"),
        Reference(kind="quote", source_id="b"),
        Reference(kind="reply", source_id="c"),
    )
    assert arrival(1, event(references=refs)).echoes == ("a", "b")


async def test_a_clustering_failure_never_stops_the_consumer(monkeypatch, caplog):
    from types import SimpleNamespace

    from sqlalchemy.exc import IntegrityError

    from switchboard_router.incidents import stage
    from switchboard_router.items.steps import StoredItem
    from switchboard_router.kafka.consumer import RouterConsumer
    from switchboard_router.routing.policy import Policy
    from switchboard_router.settings import RouterSettings

    consumer = RouterConsumer(RouterSettings(), engine=None, policy=Policy.load())  # type: ignore[arg-type]
    e = event()
    stored = [StoredItem(item_id=1, mention_id=e.mention_id, queue_id="general", created=True)]
    by_mention = {e.mention_id: SimpleNamespace(event=e)}
    calls = []
    for failure in (RuntimeError("bug"), IntegrityError("stmt", {}, Exception("dup"))):

        def failing(*args, failure=failure, **kwargs):
            calls.append(kwargs["arrivals"])
            raise failure

        monkeypatch.setattr(stage, "cluster_items", failing)
        await consumer._cluster(stored, by_mention)  # returns: the batch goes on
    assert [[a.item_id for a in arrivals] for arrivals in calls] == [[1], [1]]
    assert "stay unclustered" in caplog.text
