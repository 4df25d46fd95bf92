"""Claims, leases, SLA ladders and assignment on a real PostgreSQL, the clock
driven by hand (`scheduler.tick` with a chosen time) so no test waits."""

import contextlib
import json
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from threading import Barrier

import pytest
from sqlalchemy import select

from switchboard_router import scheduler
from switchboard_router.audit.service import ROUTER
from switchboard_router.db.tables import audit, outbox
from switchboard_router.items import service as work
from switchboard_router.items import timers
from switchboard_router.items.steps import Conflict, StepContext
from switchboard_router.people import service as people
from switchboard_router.people.security import Principal, Role
from switchboard_router.queues.service import add_member, create_queue
from switchboard_router.routing.policy import Policy

pytestmark = pytest.mark.postgres

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
POLICY = Policy.from_mapping(
    {
        "version": "t1",
        "default_queue": "general",
        "queues": {
            "general": {"supervisor_queue": "supervisors"},
            "rr": {"assignment": "round_robin"},
            "ll": {"assignment": "least_loaded"},
        },
        "sla": [
            {
                "name": "normal",
                "queues": ["general"],
                "urgency": ["normal"],
                "claim_seconds": 60,
                "ack_seconds": 30,
                "ladder": [
                    {"after_seconds": 0, "raise_priority": 1},
                    {
                        "after_seconds": 120,
                        "move_to": "supervisor",
                        "escalate": True,
                        "notify": "duty",
                    },
                ],
            }
        ],
    }
)


def at(seconds):
    return StepContext(now=NOW + timedelta(seconds=seconds), lease_seconds=30, policy=POLICY)


def officer(engine, queues, *, on_duty=False, capacity=5, role=Role.OFFICER):
    row = people.create_officer(
        engine, name="o", role=role, capacity=capacity, on_duty=on_duty, now=NOW, by=ROUTER
    )
    for q in queues:
        with contextlib.suppress(people.Exists):
            create_queue(
                engine, queue_id=q, assignment_mode=None, supervisor_queue=None, now=NOW, by=ROUTER
            )
        add_member(engine, queue_id=q, officer_id=row["id"], now=NOW, by=ROUTER)
    return Principal(officer_id=row["id"], name="o", role=role, queues=frozenset(queues))


def actions(engine, item_id):
    with engine.connect() as conn:
        return [
            r.action
            for r in conn.execute(
                select(audit).where(audit.c.item_id == item_id).order_by(audit.c.id)
            )
        ]


def outbox_events(engine, topic):
    with engine.connect() as conn:
        rows = conn.execute(
            select(outbox).where(outbox.c.topic == topic).order_by(outbox.c.id)
        ).all()
    return [json.loads(r.payload) for r in rows]


def test_twenty_concurrent_claims_of_one_item_have_exactly_one_winner(engine, put_items, make_item):
    item_id = put_items(engine, make_item("m1"))["m1"]
    officers = [officer(engine, ["general"]) for _ in range(20)]
    barrier = Barrier(20)

    def attempt(actor):
        barrier.wait()
        try:
            work.claim(engine, item_id=item_id, actor=actor, context=at(0))
            return actor.officer_id
        except Conflict:
            return None

    with ThreadPoolExecutor(20) as pool:
        results = list(pool.map(attempt, officers))
    winners = [r for r in results if r is not None]
    assert len(winners) == 1
    assert work.detail(engine, item_id=item_id, actor=officers[0])["assignee"] == winners[0]
    assert actions(engine, item_id) == ["queued", "claimed"]


def test_an_expired_lease_returns_the_item_to_the_pool_with_an_audit_record_and_event(
    engine, put_items, make_item
):
    item_id = put_items(engine, make_item("m1"))["m1"]
    ann = officer(engine, ["general"])
    work.claim(engine, item_id=item_id, actor=ann, context=at(0))
    work.heartbeat(engine, item_id=item_id, actor=ann, context=at(20))  # lease now ends at 50 s
    assert timers.expire_leases(engine, at(40)) == 0
    assert timers.expire_leases(engine, at(51)) == 1
    item = work.detail(engine, item_id=item_id, actor=ann)
    assert (item["status"], item["assignee"]) == ("open", None)
    assert actions(engine, item_id)[-1] == "lease_expired"
    events = outbox_events(engine, "mentions.routed.v1")
    assert [e["action"] for e in events][-1] == "lease_expired"
    assert events[-1]["details"] == {"previous_assignee": ann.officer_id}
    with pytest.raises(Conflict):
        work.acknowledge(engine, item_id=item_id, actor=ann, context=at(52))


def test_an_acknowledged_item_keeps_its_owner_and_is_resolved_with_a_disposition(
    engine, put_items, make_item
):
    item_id = put_items(engine, make_item("m1"))["m1"]
    ann = officer(engine, ["general"])
    work.claim(engine, item_id=item_id, actor=ann, context=at(0))
    work.acknowledge(engine, item_id=item_id, actor=ann, context=at(1))
    assert timers.expire_leases(engine, at(10_000)) == 0
    work.add_note(engine, item_id=item_id, actor=ann, now=NOW, text="called the caller back")
    work.resolve(
        engine, item_id=item_id, actor=ann, context=at(5), disposition="actioned", note=None
    )
    item = work.detail(engine, item_id=item_id, actor=ann)
    assert (item["status"], item["disposition"]) == ("resolved", "actioned")
    assert [n["text"] for n in item["notes"]] == ["called the caller back"]
    assert actions(engine, item_id) == [
        "queued",
        "claimed",
        "acknowledged",
        "note_added",
        "resolved",
    ]


def test_a_missed_claim_deadline_climbs_the_ladder_once_per_tier(engine, put_items, make_item):
    item_id = put_items(engine, make_item("m1", sla_due_at=NOW + timedelta(seconds=60)))["m1"]
    admin = Principal(officer_id="admin", name="a", role=Role.ADMIN, queues=frozenset())
    assert scheduler.tick(engine, at(59)) == {
        "expired": 0,
        "breached": 0,
        "escalated": 0,
        "assigned": 0,
        "dispatched": 0,
    }
    assert scheduler.tick(engine, at(61)) == {
        "expired": 0,
        "breached": 1,
        "escalated": 1,
        "assigned": 0,
        "dispatched": 0,
    }
    for _ in range(2):  # another tick (or replica) changes nothing
        assert scheduler.tick(engine, at(62)) == {
            "expired": 0,
            "breached": 0,
            "escalated": 0,
            "assigned": 0,
            "dispatched": 0,
        }
    item = work.detail(engine, item_id=item_id, actor=admin)
    assert (item["escalation_tier"], item["priority_rank"], item["breach"]) == (1, 1, "claim")
    assert scheduler.tick(engine, at(61 + 119))["escalated"] == 0
    assert scheduler.tick(engine, at(61 + 121))["escalated"] == 1
    assert scheduler.tick(engine, at(61 + 500))["escalated"] == 0
    item = work.detail(engine, item_id=item_id, actor=admin)
    assert (item["escalation_tier"], item["queue_id"], item["status"]) == (2, "supervisors", "open")
    assert actions(engine, item_id) == ["queued", "sla_breached", "escalated", "escalated"]
    [escalation] = outbox_events(engine, "mentions.escalated.v1")
    assert (escalation["tier"], escalation["notify"], escalation["queue_id"]) == (
        2,
        "duty",
        "supervisors",
    )


def test_round_robin_takes_turns_among_on_duty_members_with_room(engine, put_items, make_item):
    ids = put_items(engine, *[make_item(f"m{n}", queue="rr", minutes=n) for n in range(5)])
    a = officer(engine, ["rr"], on_duty=True, capacity=2)
    b = officer(engine, ["rr"], on_duty=True, capacity=2)
    officer(engine, ["rr"], on_duty=False)
    assert scheduler.tick(engine, at(0))["assigned"] == 4
    admin = Principal(officer_id="admin", name="a", role=Role.ADMIN, queues=frozenset())
    owners = [work.detail(engine, item_id=ids[f"m{n}"], actor=admin)["assignee"] for n in range(5)]
    assert sorted(owners[:4]) == sorted([a.officer_id, b.officer_id] * 2)
    assert (
        owners[0] != owners[1] and owners[4] is None
    )  # oldest first; nobody has room for the fifth
    work.acknowledge(
        engine, item_id=ids["m0"], actor=a if owners[0] == a.officer_id else b, context=at(1)
    )
    work.resolve(
        engine,
        item_id=ids["m0"],
        actor=a if owners[0] == a.officer_id else b,
        context=at(2),
        disposition="no_action",
        note=None,
    )
    assert scheduler.tick(engine, at(3))["assigned"] == 1
    assert work.detail(engine, item_id=ids["m4"], actor=admin)["assignee"] == owners[0]


def test_least_loaded_gives_the_next_item_to_the_officer_with_most_room(
    engine, put_items, make_item
):
    busy = officer(engine, ["ll", "other"], on_duty=True, capacity=4)
    free = officer(engine, ["ll"], on_duty=True, capacity=4)
    other_ids = put_items(engine, *[make_item(f"o{n}", queue="other") for n in range(3)])
    for item_id in other_ids.values():
        work.claim(engine, item_id=item_id, actor=busy, context=at(0))
    ids = put_items(engine, make_item("l1", queue="ll"), make_item("l2", queue="ll", minutes=1))
    assert scheduler.tick(engine, at(1))["assigned"] == 2
    admin = Principal(officer_id="admin", name="a", role=Role.ADMIN, queues=frozenset())
    owners = {m: work.detail(engine, item_id=i, actor=admin)["assignee"] for m, i in ids.items()}
    assert owners == {"l1": free.officer_id, "l2": free.officer_id}


def test_an_officer_cannot_release_or_resolve_someone_elses_claim_but_a_supervisor_can(
    engine, put_items, make_item
):
    item_id = put_items(engine, make_item("m1"))["m1"]
    ann, bob = officer(engine, ["general"]), officer(engine, ["general"])
    sup = officer(engine, ["general"], role=Role.SUPERVISOR)
    work.claim(engine, item_id=item_id, actor=ann, context=at(0))
    with pytest.raises(Conflict):
        work.release(engine, item_id=item_id, actor=bob, context=at(1))
    work.transfer(
        engine,
        item_id=item_id,
        actor=sup,
        context=at(2),
        queue_id=None,
        officer_id=bob.officer_id,
        reason="shift change",
    )
    assert work.detail(engine, item_id=item_id, actor=ann)["assignee"] == bob.officer_id
    work.release(engine, item_id=item_id, actor=sup, context=at(3))
    assert work.detail(engine, item_id=item_id, actor=ann)["status"] == "open"
