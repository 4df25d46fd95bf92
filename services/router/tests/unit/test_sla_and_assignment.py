from datetime import UTC, datetime, timedelta

import pytest

from switchboard_router.routing.assignment import AssignmentMode, Candidate, choose
from switchboard_router.routing.policy import Policy
from switchboard_router.routing.rules import PolicyError
from switchboard_router.routing.sla import due_tiers, parse_slas
from switchboard_shared.events import Urgency

T = datetime(2026, 12, 1, tzinfo=UTC)


def ladder_sla():
    [sla] = parse_slas(
        [
            {
                "name": "s",
                "queues": ["district-*"],
                "urgency": ["high"],
                "claim_seconds": 60,
                "ladder": [
                    {"after_seconds": 0, "raise_priority": 1},
                    {"after_seconds": 300, "move_to": "supervisor", "escalate": True},
                ],
            }
        ],
        queue_ids_ok=lambda q: True,
    )
    return sla


def test_an_sla_covers_its_queues_and_urgencies_only():
    sla = ladder_sla()
    assert sla.applies("district-north", Urgency.HIGH)
    assert not sla.applies("district-north", Urgency.LOW)
    assert not sla.applies("traffic", Urgency.HIGH)
    assert sla.claim_due(T) == T + timedelta(seconds=60)
    assert sla.ack_due(T) is None


def test_tiers_fall_due_in_order_and_each_once():
    sla = ladder_sla()
    assert [n for n, _ in due_tiers(sla, breached_at=T, tiers_done=0, now=T)] == [1]
    assert due_tiers(sla, breached_at=T, tiers_done=1, now=T + timedelta(seconds=299)) == []
    late = due_tiers(sla, breached_at=T, tiers_done=0, now=T + timedelta(hours=1))
    assert [n for n, _ in late] == [1, 2]  # a router down through both tiers fires both
    assert late[1][1].actions == ("move_to:supervisor", "escalate")
    assert due_tiers(sla, breached_at=T, tiers_done=2, now=T + timedelta(hours=9)) == []


@pytest.mark.parametrize(
    ("entry", "named"),
    [
        ({"name": "a"}, "sla 'a': claim_seconds or ack_seconds"),
        ({"name": "a", "claim_seconds": -1}, "sla 'a'.claim_seconds"),
        ({"name": "a", "claim_seconds": 5, "urgency": ["soon"]}, "sla 'a'.urgency"),
        ({"name": "a", "claim_seconds": 5, "ladder": [{"after_seconds": 1}]}, "sla 'a'.ladder[0]"),
        (
            {
                "name": "a",
                "claim_seconds": 5,
                "ladder": [
                    {"after_seconds": 9, "escalate": True},
                    {"after_seconds": 1, "escalate": True},
                ],
            },
            "sla 'a'.ladder[1].after_seconds",
        ),
        (
            {"name": "a", "claim_seconds": 5, "ladder": [{"move_to": "Bad Queue"}]},
            "sla 'a'.ladder[0].move_to",
        ),
    ],
)
def test_a_bad_sla_is_refused_naming_the_entry_and_field(entry, named):
    with pytest.raises(PolicyError) as caught:
        Policy.from_mapping({"version": "1", "default_queue": "g", "sla": [entry]})
    assert named in str(caught.value)


def c(officer_id, load, capacity=3, last=None):
    return Candidate(officer_id, load, capacity, last)


def test_round_robin_picks_who_waited_longest_and_skips_the_full():
    candidates = [c("a", 0, last=T), c("b", 1, last=T - timedelta(minutes=5)), c("z", 3)]
    assert choose(AssignmentMode.ROUND_ROBIN, candidates).officer_id == "b"
    assert choose(AssignmentMode.ROUND_ROBIN, [*candidates, c("new", 2)]).officer_id == "new"


def test_least_loaded_picks_the_most_spare_capacity_relative_to_capacity():
    assert (
        choose(AssignmentMode.LEAST_LOADED, [c("a", 2, 4), c("b", 1, 1), c("c", 2, 8)]).officer_id
        == "c"
    )


def test_nobody_is_chosen_in_an_open_queue_or_when_everyone_is_full():
    assert choose(AssignmentMode.OPEN, [c("a", 0)]) is None
    assert choose(AssignmentMode.LEAST_LOADED, [c("a", 3), c("b", 5)]) is None
