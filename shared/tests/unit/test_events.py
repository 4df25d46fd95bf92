from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from switchboard_shared.events import (
    Classification,
    MentionClassified,
    MentionIn,
    MentionReceived,
    Urgency,
    mention_id_for,
)
from switchboard_shared.problems import field_errors
from switchboard_shared.topics import ALL


def mention(**overrides):
    data = {
        "source": "x",
        "source_id": "1800",
        "text": "Shots fired near 5th and Main",
        "created_at": "2026-11-29T22:00:00+00:00",
    }
    data.update(overrides)
    return MentionIn.model_validate(data)


def test_same_source_and_source_id_give_the_same_mention_id():
    assert mention().mention_id == mention(text="edited text").mention_id
    assert mention().mention_id != mention(source_id="1801").mention_id
    assert mention().mention_id != mention(source="facebook").mention_id
    assert mention().mention_id == mention_id_for("x", "1800")


def test_unknown_fields_are_refused_and_named():
    with pytest.raises(ValidationError) as caught:
        mention(colour="red")
    assert field_errors(caught.value)[0]["field"] == "colour"


def test_naive_created_time_is_refused():
    with pytest.raises(ValidationError) as caught:
        mention(created_at="2026-11-29T22:00:00")
    assert field_errors(caught.value)[0]["field"] == "created_at"


def test_text_over_the_limit_is_refused():
    with pytest.raises(ValidationError) as caught:
        mention(text="a" * 10_001)
    assert field_errors(caught.value)[0]["field"] == "text"


def test_nested_field_errors_name_the_full_path():
    with pytest.raises(ValidationError) as caught:
        mention(geo={"lat": 91, "lon": 0})
    assert field_errors(caught.value)[0]["field"] == "geo.lat"


def test_events_round_trip_through_json():
    m = mention()
    received = MentionReceived(mention_id=m.mention_id, mention=m)
    classified = MentionClassified(
        mention_id=m.mention_id,
        received_at=received.received_at,
        mention=m,
        classification=Classification(
            urgency=Urgency.CRITICAL, score=0.9, topics=("active_threat",), ruleset_version="v"
        ),
    )
    again = MentionClassified.model_validate_json(classified.model_dump_json())
    assert again == classified
    assert again.schema_version == 1
    assert again.classified_at.tzinfo is not None
    assert MentionReceived.model_validate_json(
        received.model_dump_json()
    ).received_at <= datetime.now(UTC)


def test_urgency_ranks_sort_most_urgent_first():
    ordered = sorted(Urgency, key=lambda u: u.rank)
    assert ordered == [Urgency.CRITICAL, Urgency.HIGH, Urgency.NORMAL, Urgency.LOW]


def test_topics_are_named_once_with_several_partitions_and_a_mention_key():
    names = [spec.base_name for spec in ALL]
    assert len(names) == len(set(names))
    assert {
        "mentions.raw.v1",
        "mentions.classified.v1",
        "mentions.routed.v1",
        "mentions.deadletter.v1",
    } <= set(names)
    for spec in ALL:
        assert spec.partitions > 1
        assert spec.key == "mention_id"
        assert spec.name("p.") == "p." + spec.base_name


@pytest.mark.parametrize(
    ("source", "source_id"),
    [("api", "1"), ("x", "1789234"), ("rss", "https://example.org/a?b=c"), ("api", "ñ€😀 id")],
)
def test_mention_ids_are_the_standard_uuid5_of_source_and_id(source, source_id):
    import uuid

    from switchboard_shared.identity import MENTION_ID_NAMESPACE, mention_id_for

    expected = str(uuid.uuid5(MENTION_ID_NAMESPACE, f"{source}:{source_id}"))
    assert mention_id_for(source, source_id) == expected


def test_submitter_scoped_ids_are_namespaced_by_agency_and_platform_ids_are_not():
    from switchboard_shared.events import MentionIn, Source

    def m(source: str, source_id: str) -> MentionIn:
        return MentionIn.model_validate(
            {
                "source": source,
                "source_id": source_id,
                "text": "t",
                "created_at": "2026-11-29T22:00:00Z",
            }
        )

    case = m("app", "case-42")
    a, b = case.mention_id_from("agency-a"), case.mention_id_from("agency-b")
    assert len({a, b, case.mention_id}) == 3
    assert a == case.mention_id_from("agency-a")  # stable
    assert a == mention_id_for("app", "case-42", namespace="agency-a")
    assert case.mention_id_from(None) == case.mention_id
    tweet = m("x", "1800")
    assert tweet.mention_id_from("agency-a") == tweet.mention_id == mention_id_for("x", "1800")
    assert {s for s in Source if s.submitter_scoped} == {
        Source.APP,
        Source.EMAIL,
        Source.SMS,
        Source.OTHER,
    }
    # No namespace spelling can reach another's ids: the namespace is hashed, not joined.
    assert mention_id_for("app", "c:d", namespace="a") != mention_id_for(
        "app", "d", namespace="a:c"
    )
