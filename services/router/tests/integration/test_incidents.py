"""Incidents on a real PostgreSQL: clustering of stored items (and its replay), the
incident API with queue visibility, claim/resolve, confirm/reject, split/merge, and the
escalation of an item in an incident."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from threading import Barrier

import pytest
from sqlalchemy import func, select

from switchboard_router import metrics, scheduler
from switchboard_router.db.tables import audit, incident_members, incidents, outbox
from switchboard_router.gauges import observe_database
from switchboard_router.incidents import stage
from switchboard_router.incidents.clustering import ClusteringConfig
from switchboard_router.items.steps import NewItem, StepContext
from switchboard_router.routing.policy import Policy

pytestmark = pytest.mark.postgres

T0 = datetime(2026, 12, 4, 18, 0, tzinfo=UTC)
CONFIG = ClusteringConfig.load()
FIRE = [
    "Huge fire at the warehouse on Dock Street, black smoke everywhere",
    "Fire engines racing to the warehouse fire on Dock Street",
    "There is a massive fire at the Dock Street warehouse right now",
]
UNRELATED = "Lost dog near the marina, brown terrier answers to Max"


def fire_item(
    mention_id,
    *,
    queue="general",
    minutes=0,
    urgency="normal",
    rank=2,
    sla_due_at=None,
    references=(),
):
    return NewItem(
        mention_id=mention_id,
        queue_id=queue,
        urgency=urgency,
        urgency_rank=rank,
        score=0.8,
        topics=["fire"],
        reasons=[],
        rule="r",
        ruleset_version="r1",
        policy_version="p1",
        source="x",
        source_id=mention_id,
        text="(text)",
        mention={"source": "x", "references": list(references)},
        received_at=T0 + timedelta(minutes=minutes),
        classified_at=T0 + timedelta(minutes=minutes, seconds=1),
        priority_rank=rank,
        sla_due_at=sla_due_at,
    )


def cluster(
    engine, stored_ids, texts, *, config=CONFIG, district="harbour", echoes=None, place=None
):
    arrivals = [
        stage.Arrival(
            item_id,
            text,
            district=district,
            place_text=place,
            echoes=tuple((echoes or {}).get(item_id, ())),
        )
        for item_id, text in zip(stored_ids, texts, strict=True)
    ]
    return stage.cluster_items(engine, arrivals=arrivals, config=config, now=T0)


def counts(engine):
    with engine.connect() as conn:
        return (
            conn.scalar(select(func.count()).select_from(incidents)),
            conn.scalar(select(func.count()).select_from(incident_members)),
            conn.scalar(
                select(func.count()).select_from(audit).where(audit.c.action.like("incident_%"))
            ),
        )


@pytest.fixture
def fire(engine, put_items):
    """Three fire reports in `general` and one in `harbour-desk`, clustered: one incident."""
    ids = put_items(
        engine,
        fire_item("f1"),
        fire_item("f2", minutes=2, urgency="high", rank=1),
        fire_item("f3", minutes=4, queue="harbour-desk"),
        fire_item("dog", minutes=5),
    )
    order = ["f1", "f2", "f3", "dog"]
    cluster(engine, [ids[m] for m in order], [*FIRE, UNRELATED])
    return ids


def test_stored_items_are_clustered_once_and_replaying_changes_nothing(engine, fire):
    before = counts(engine)
    assert before == (1, 3, 3)  # one incident, three members, one link row each
    with engine.connect() as conn:
        members = dict(
            conn.execute(select(incident_members.c.item_id, incident_members.c.link)).all()
        )
        head = conn.execute(select(incidents)).one()
    assert set(members) == {fire["f1"], fire["f2"], fire["f3"]}
    assert set(members.values()) == {"automatic"}
    # Urgency rose with the high member; bounds are the members' received_at.
    assert (head.urgency, head.member_count, head.district) == ("high", 3, "harbour")
    assert head.last_seen.astimezone(UTC) == T0 + timedelta(minutes=4)
    # The same items again (a replayed batch): already clustered, nothing changes.
    assert cluster(engine, list(fire.values()), [*FIRE, UNRELATED]) == []
    assert counts(engine) == before


def test_an_item_stored_but_not_clustered_before_a_crash_is_clustered_on_replay(engine, put_items):
    ids = put_items(engine, fire_item("a"), fire_item("b", minutes=1))
    cluster(engine, [ids["a"]], FIRE[:1], place="Dock Street")
    # The crash: `b` was stored, its clustering never ran. The replay clusters it.
    assert counts(engine)[0] == 0
    [linked] = cluster(engine, [ids["a"], ids["b"]], FIRE[:2], place="Dock Street")
    assert (linked.item_id, linked.member_count) == (ids["b"], 2)
    with engine.connect() as conn:
        # The place shown is the first member's, as the classifier wrote it.
        assert conn.scalar(select(incidents.c.place)) == "Dock Street"


def test_a_repost_joins_the_incident_of_the_post_it_reposts(engine, fire, put_items):
    repost = put_items(engine, fire_item("rp", minutes=300))["rp"]
    [linked] = cluster(engine, [repost], ["wow"], district=None, echoes={repost: ["f2"]})
    assert linked.reason == "reference" and linked.member_count == 4


def test_the_api_shows_an_incident_only_through_members_the_caller_may_see(
    engine, client, fire, add_officer, admin_headers, put_items
):
    _, general = add_officer(client, ["general"])
    _, harbour = add_officer(client, ["harbour-desk"])
    _, stranger = add_officer(client, ["elsewhere"])
    [seen] = client.get("/v1/incidents", headers=general).json()["incidents"]
    assert seen["member_count"] == 2 and seen["queue_ids"] == ["general"]
    assert seen["urgency"] == "high" and seen["status"] == "open"
    [seen_all] = client.get("/v1/incidents", headers=admin_headers).json()["incidents"]
    assert seen_all["member_count"] == 3
    assert seen_all["queue_ids"] == ["general", "harbour-desk"]
    incident_id = seen["incident_id"]
    detail = client.get(f"/v1/incidents/{incident_id}", headers=harbour).json()
    assert [m["mention_id"] for m in detail["members"]] == ["f3"]  # only the member it may see
    assert client.get("/v1/incidents", headers=stranger).json() == {"incidents": []}
    assert client.get(f"/v1/incidents/{incident_id}", headers=stranger).status_code == 404
    # An incident of the stranger's own queue: neither may merge with the other's.
    theirs = put_items(
        engine, fire_item("s1", queue="elsewhere"), fire_item("s2", minutes=1, queue="elsewhere")
    )
    [own] = cluster(engine, [theirs["s1"], theirs["s2"]], FIRE[:2], district="uptown")
    for caller, target, other in (
        (stranger, incident_id, own.incident_id),
        (stranger, own.incident_id, incident_id),
        (general, incident_id, own.incident_id),
        (stranger, incident_id, incident_id),
    ):
        merged = client.post(
            f"/v1/incidents/{target}/merge", json={"incident_id": other}, headers=caller
        )
        assert merged.status_code == 404, (target, other, merged.text)
    bad = client.get("/v1/incidents?status=closed", headers=general)
    assert bad.status_code == 422 and "status" in bad.text
    full = client.get(f"/v1/incidents/{incident_id}", headers=admin_headers).json()
    times = [m["received_at"] for m in full["members"]]
    assert times == sorted(times) and len(times) == 3


def test_claim_and_resolve_an_incident_work_every_member_the_caller_may(client, fire, add_officer):
    officer, general = add_officer(client, ["general"])
    _, other = add_officer(client, ["general"])
    incident_id = client.get("/v1/incidents", headers=general).json()["incidents"][0]["incident_id"]
    taken = client.post(f"/v1/incidents/{incident_id}/claim", headers=general)
    assert taken.status_code == 200, taken.text
    # f3 is in a queue the caller cannot see: neither claimed nor named.
    assert taken.json() == {"claimed": sorted([fire["f1"], fire["f2"]]), "skipped": []}
    # A colleague finds nothing left to claim.
    again = client.post(f"/v1/incidents/{incident_id}/claim", headers=other).json()
    assert again["claimed"] == []
    assert client.get(f"/v1/items/{fire['f1']}", headers=general).json()["assignee"] == officer
    bad = client.post(
        f"/v1/incidents/{incident_id}/resolve", json={"disposition": "sorted"}, headers=general
    )
    assert bad.status_code == 422 and "disposition" in bad.text
    done = client.post(
        f"/v1/incidents/{incident_id}/resolve",
        json={"disposition": "actioned", "note": "crews on scene"},
        headers=general,
    )
    assert done.status_code == 200, done.text
    assert done.json()["resolved"] == sorted([fire["f1"], fire["f2"]])
    assert client.get(f"/v1/items/{fire['f2']}", headers=general).json()["status"] == "resolved"
    assert client.get("/v1/incidents", headers=general).json()["incidents"] == []
    [resolved] = client.get("/v1/incidents?status=resolved", headers=general).json()["incidents"]
    assert (resolved["status"], resolved["assignee"]) == ("resolved", officer)


def test_a_suggested_member_is_confirmed_or_rejected_by_a_person(
    engine, client, fire, put_items, add_officer
):
    officer, general = add_officer(client, ["general"])
    maybe = put_items(engine, fire_item("maybe", minutes=6))["maybe"]
    suggest_only = CONFIG.model_copy(update={"attach": 0.99, "suggest": 0.01})
    [linked] = cluster(
        engine, [maybe], ["Smoke over the docks tonight, anyone know why"], config=suggest_only
    )
    assert linked.link == "suggested"
    incident_id = linked.incident_id
    shown = client.get(f"/v1/incidents/{incident_id}", headers=general).json()
    assert (shown["member_count"], shown["suggested_count"]) == (2, 1)
    confirmed = client.post(f"/v1/incidents/{incident_id}/members/{maybe}/confirm", headers=general)
    assert confirmed.status_code == 200, confirmed.text
    assert (confirmed.json()["link"], confirmed.json()["decided_by"]) == ("confirmed", officer)
    assert client.get(f"/v1/incidents/{incident_id}", headers=general).json()["member_count"] == 3
    rejected = client.post(
        f"/v1/incidents/{incident_id}/members/{maybe}/reject", headers=general
    ).json()
    assert rejected["link"] == "rejected"
    assert client.get(f"/v1/incidents/{incident_id}", headers=general).json()["member_count"] == 2
    # The item's audit trail (what the console's stream shows) has each step.
    trail = [a["action"] for a in client.get(f"/v1/items/{maybe}", headers=general).json()["audit"]]
    assert trail == ["queued", "incident_linked", "incident_confirmed", "incident_rejected"]
    missing = client.post(f"/v1/incidents/{incident_id}/members/999999/confirm", headers=general)
    assert missing.status_code == 404


def test_split_then_merge_moves_members_between_incidents(client, fire, admin_headers):
    incident_id = client.get("/v1/incidents", headers=admin_headers).json()["incidents"][0][
        "incident_id"
    ]
    refused = client.post(
        f"/v1/incidents/{incident_id}/split", json={"item_ids": [424242]}, headers=admin_headers
    )
    assert refused.status_code == 422 and "item_ids" in refused.text
    empty = client.post(
        f"/v1/incidents/{incident_id}/split", json={"item_ids": []}, headers=admin_headers
    )
    assert empty.status_code == 422 and "item_ids" in empty.text
    split = client.post(
        f"/v1/incidents/{incident_id}/split",
        json={"item_ids": [fire["f3"]]},
        headers=admin_headers,
    )
    assert split.status_code == 201, split.text
    new_id = split.json()["incident_id"]
    assert [m["item_id"] for m in split.json()["members"]] == [fire["f3"]]
    left = client.get(f"/v1/incidents/{incident_id}", headers=admin_headers).json()
    assert left["member_count"] == 2
    merged = client.post(
        f"/v1/incidents/{incident_id}/merge", json={"incident_id": new_id}, headers=admin_headers
    )
    assert merged.status_code == 200, merged.text
    assert merged.json()["member_count"] == 3
    listed = client.get("/v1/incidents?status=all", headers=admin_headers).json()["incidents"]
    assert [i["incident_id"] for i in listed] == [incident_id]
    assert client.get(f"/v1/incidents/{new_id}", headers=admin_headers).status_code == 404
    itself = client.post(
        f"/v1/incidents/{incident_id}/merge",
        json={"incident_id": incident_id},
        headers=admin_headers,
    )
    assert itself.status_code == 422 and "incident_id" in itself.text


def test_an_escalation_of_an_item_in_an_incident_names_it_and_its_size(engine, put_items):
    policy = Policy.from_mapping(
        {
            "version": "t1",
            "default_queue": "general",
            "sla": [
                {
                    "name": "normal",
                    "queues": ["general"],
                    "urgency": ["normal"],
                    "claim_seconds": 60,
                    "ack_seconds": 30,
                    "ladder": [{"after_seconds": 0, "escalate": True, "notify": "duty"}],
                }
            ],
        }
    )
    now = datetime.now(UTC)
    ids = put_items(
        engine,
        fire_item("e1", sla_due_at=now + timedelta(seconds=60)),
        fire_item("e2", minutes=1),
        fire_item("lone", minutes=2, sla_due_at=now + timedelta(seconds=60)),
    )
    cluster(engine, [ids["e1"], ids["e2"]], FIRE[:2])
    cluster(engine, [ids["lone"]], [UNRELATED])
    context = StepContext(now=now + timedelta(seconds=61), lease_seconds=30, policy=policy)
    assert scheduler.tick(engine, context)["escalated"] == 2
    with engine.connect() as conn:
        events = [
            json.loads(r.payload)
            for r in conn.execute(select(outbox).where(outbox.c.topic == "mentions.escalated.v1"))
        ]
        incident_id = conn.scalar(select(incidents.c.id))
    by_item = {e["item_id"]: e for e in events}
    assert (by_item[ids["e1"]]["incident_id"], by_item[ids["e1"]]["member_count"]) == (
        incident_id,
        2,
    )
    assert (by_item[ids["lone"]]["incident_id"], by_item[ids["lone"]]["member_count"]) == (None, 1)


def test_incident_metrics_count_links_and_open_incidents(engine, put_items):
    before = metrics.INCIDENT_LINKS.labels("automatic")._value.get()
    observed = metrics.INCIDENT_MEMBERS._sum.get()
    ids = put_items(engine, fire_item("m1"), fire_item("m2", minutes=1))
    cluster(engine, [ids["m1"], ids["m2"]], FIRE[:2])
    assert metrics.INCIDENT_LINKS.labels("automatic")._value.get() == before + 1
    assert metrics.INCIDENT_MEMBERS._sum.get() == observed + 2
    observe_database(engine, Policy.load())
    assert metrics.INCIDENTS_OPEN._value.get() == 1


def test_two_replicas_clustering_at_once_open_one_incident(engine, put_items):
    # `x` is stored and clustered alone; `a` and `b` (near-duplicates of it) arrive at two
    # replicas at once. Without the advisory lock both would open an incident with `x`.
    ids = put_items(engine, fire_item("x"), fire_item("a", minutes=1), fire_item("b", minutes=1))
    cluster(engine, [ids["x"]], FIRE[:1])
    barrier = Barrier(2)

    def replica(mention_id):
        barrier.wait()
        return cluster(engine, [ids[mention_id]], [f"{FIRE[0]}!"])

    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(replica, ["a", "b"]))
    assert sorted(len(r) for r in results) == [1, 1]
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(incidents)) == 1
        assert conn.scalar(select(incidents.c.member_count)) == 3


def test_a_repost_of_a_post_in_a_resolved_incident_leaves_that_incident_alone(
    engine, client, fire, put_items, admin_headers
):
    incident_id = client.get("/v1/incidents", headers=admin_headers).json()["incidents"][0][
        "incident_id"
    ]
    done = client.post(
        f"/v1/incidents/{incident_id}/resolve",
        json={"disposition": "actioned"},
        headers=admin_headers,
    )
    assert done.status_code == 200, done.text
    repost = put_items(engine, fire_item("late-rp", minutes=30))["late-rp"]
    assert cluster(engine, [repost], ["wow"], district=None, echoes={repost: ["f2"]}) == []
    shown = client.get(f"/v1/incidents/{incident_id}", headers=admin_headers).json()
    assert (shown["status"], shown["member_count"]) == ("resolved", 3)


def test_a_quote_stored_in_the_same_batch_before_its_post_still_joins_it(engine, put_items):
    # The quote arrived a minute before the post it quotes (clocks, retries): clustered in
    # one batch, the post is taken first and the quote finds it.
    ids = put_items(
        engine,
        fire_item("quote", minutes=0),
        fire_item("post", minutes=1),
        fire_item("rp", minutes=2),
    )
    linked = cluster(
        engine,
        [ids["quote"], ids["post"], ids["rp"]],
        ["this!!", FIRE[0], "omg"],
        district=None,
        echoes={ids["quote"]: ["post"], ids["rp"]: ["post"]},
    )
    assert sorted(link.item_id for link in linked) == sorted([ids["quote"], ids["rp"]])
    assert {link.reason for link in linked} == {"reference"}
    assert max(link.member_count for link in linked) == 3


def test_a_quote_clustered_a_batch_before_its_post_is_found_by_the_post(engine, put_items):
    # A replay, or two partitions, can store the quote and cluster it before the post it
    # quotes: it stands alone then. The post, clustered later, finds it by its stored
    # references, so the two end up together whatever the order (replay gives the same).
    quoting = [{"kind": "quote", "source_id": "post"}]
    ids = put_items(
        engine,
        fire_item("quote", minutes=1, references=quoting),
        fire_item("post", minutes=0),
    )
    assert (
        cluster(engine, [ids["quote"]], ["this!!"], district=None, echoes={ids["quote"]: ["post"]})
        == []
    )
    [linked] = cluster(engine, [ids["post"]], [FIRE[0]], district=None)
    assert (linked.item_id, linked.reason, linked.member_count) == (ids["post"], "reference", 2)
    with engine.connect() as conn:
        members = dict(
            conn.execute(select(incident_members.c.item_id, incident_members.c.incident_id)).all()
        )
    assert members[ids["quote"]] == members[ids["post"]]


# --- a report that ties two parts of one event together ---------------------

ADDRESS_REPORTS = [
    "Fire at the Dock Street warehouse, huge flames coming through the roof",
    "Dock Street warehouse is on fire, flames through the roof",
]
UNPLACED_REPORTS = [
    "Black smoke over the harbour, something big is burning by the pier",
    "Smoke over the pier, something is burning down by the harbour",
]
BRIDGE = (
    "Huge flames through the roof of the Dock Street warehouse and black smoke over the "
    "harbour, something big is burning by the pier"
)


def test_a_report_that_would_join_two_incidents_folds_them_into_one(engine, put_items):
    ids = put_items(
        engine,
        fire_item("a1"),
        fire_item("a2", minutes=1),
        fire_item("b1", minutes=2),
        fire_item("b2", minutes=3),
        fire_item("tie", minutes=4),
    )
    cluster(engine, [ids["a1"], ids["a2"]], ADDRESS_REPORTS, place="Dock Street")
    cluster(engine, [ids["b1"], ids["b2"]], UNPLACED_REPORTS, district=None)
    with engine.connect() as conn:
        before = dict(
            conn.execute(select(incident_members.c.item_id, incident_members.c.incident_id)).all()
        )
    # The address and the smoke over the pier are two incidents until one report names both.
    assert len(set(before.values())) == 2
    assert before[ids["a1"]] == before[ids["a2"]] != before[ids["b1"]] == before[ids["b2"]]

    linked = cluster(engine, [ids["tie"]], [BRIDGE], place="Dock Street")

    assert len(linked) == 1
    with engine.connect() as conn:
        after = dict(
            conn.execute(select(incident_members.c.item_id, incident_members.c.incident_id)).all()
        )
        heads = {r.id: r for r in conn.execute(select(incidents))}
        merged_audits = conn.execute(
            select(audit.c.item_id, audit.c.details).where(audit.c.action == "incident_merged")
        ).all()
    survivor = linked[0].incident_id
    assert set(after) == set(ids.values()) and set(after.values()) == {survivor}
    (gone,) = set(before.values()) - {survivor}
    assert heads[survivor].status == "open" and heads[survivor].member_count == 5
    assert (heads[gone].status, heads[gone].merged_into, heads[gone].member_count) == (
        "merged",
        survivor,
        0,
    )
    moved = {item for item, incident in before.items() if incident == gone}
    assert {row.item_id for row in merged_audits} == moved
    assert all(row.details["from_incident"] == gone for row in merged_audits)
    # Replayed, the tie is already clustered: nothing moves again.
    assert cluster(engine, [ids["tie"]], [BRIDGE], place="Dock Street") == []


def test_a_suggestion_never_folds_incidents_together(engine, put_items):
    strict = CONFIG.model_copy(update={"attach": 0.99})
    ids = put_items(
        engine,
        fire_item("a1"),
        fire_item("a2", minutes=1),
        fire_item("b1", minutes=2),
        fire_item("b2", minutes=3),
        fire_item("tie", minutes=4),
    )
    same = "Fire at the Dock Street warehouse, huge flames coming through the roof"
    cluster(engine, [ids["a1"], ids["a2"]], [same, same], place="Dock Street")
    smoke = "Black smoke over the harbour, something big is burning by the pier"
    cluster(engine, [ids["b1"], ids["b2"]], [smoke, smoke], district=None)
    cluster(engine, [ids["tie"]], [BRIDGE], place="Dock Street", config=strict)
    with engine.connect() as conn:
        statuses = sorted(conn.scalars(select(incidents.c.status)).all())
    assert statuses == ["open", "open"]
