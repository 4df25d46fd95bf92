"""Retention on PostgreSQL and SQLite, driven by an injected clock: mention text,
author and place blanked after N days, items deleted with their notes and item
audit after M, access-audit rows kept until their own longer window, and the
audit tables still append-only to everything but the purge."""

from datetime import UTC, datetime, timedelta
from importlib import resources

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from switchboard_router import scheduler
from switchboard_router.audit import service as access
from switchboard_router.audit.retention import Retention, purge
from switchboard_router.db.engine import make_engine, migrate
from switchboard_router.db.tables import (
    access_audit,
    audit,
    incident_members,
    incidents,
    items,
    notes,
    retention_runs,
    tokens,
)
from switchboard_router.items import service as work
from switchboard_router.items.steps import StepContext, save_items
from switchboard_router.people import service as people
from switchboard_router.people.security import Principal, Role
from switchboard_router.routing.policy import Policy

pytestmark = pytest.mark.postgres

NOW = datetime(2028, 6, 1, 12, 0, tzinfo=UTC)
POLICY = Policy.load()
WINDOWS = Retention.days(redact=90, delete=365, access_audit=730)
ADMIN = Principal(officer_id="admin", name="a", role=Role.ADMIN, queues=frozenset())
MENTION = {
    "source": "x",
    "source_id": "1",
    "text": "smoke pouring out of 12 Elm St, my kids are inside",
    "author": {"handle": "@jane_doe", "display_name": "Jane Doe"},
    "geo": {"lat": 51.5, "lon": -0.12},
    "url": "https://x.example/jane_doe/status/1",
    "district": "north",
    "language": "en",
}


@pytest.fixture(params=["postgresql", "sqlite"])
def any_engine(request, tmp_path):
    if request.param == "postgresql":
        url = request.getfixturevalue("database_url")
    else:
        url = f"sqlite:///{tmp_path}/router.db"
    engine = make_engine(url)
    migrate(engine)
    people.ensure_admin(engine, token="t", now=NOW - timedelta(days=1))
    yield engine
    engine.dispose()


def at(when):
    return StepContext(now=when, lease_seconds=30, policy=POLICY)


def aged(make_item, mention_id, days):
    item = make_item(mention_id)
    received = NOW - timedelta(days=days)
    return item.model_copy(
        update=dict(
            text=MENTION["text"],
            mention=dict(MENTION, source_id=mention_id),
            reasons=[{"rule": "topics.fire", "label": "fire", "matched": ["smoke pouring"]}],
            received_at=received,
            classified_at=received + timedelta(seconds=1),
        )
    )


def count(engine, table, *where):
    with engine.connect() as conn:
        return conn.scalar(select(func.count()).select_from(table).where(*where))


def test_aged_items_are_redacted_then_deleted_and_the_access_audit_outlives_them(
    any_engine, make_item
):
    engine = any_engine
    stored = save_items(
        engine,
        new_items=[
            aged(make_item, "fresh", 10),
            aged(make_item, "old", 100),
            aged(make_item, "ancient", 400),
        ],
    )
    ids = {s.mention_id: s.item_id for s in stored}
    clustered = {
        "features": {"123": 0.5},
        "simhash": 42,
        "place": {
            "district": "north",
            "text": "12 elm st",
            "label": "12 Elm St",
            "lat": 51.5,
            "lon": -0.12,
        },
    }
    with engine.begin() as conn:  # what the incident clustering keeps of each
        conn.execute(items.update().values(**clustered))
        for name, mention_id in (("old", "old"), ("fresh", "fresh")):
            incident = conn.execute(
                incidents.insert().values(
                    status="open",
                    urgency="normal",
                    urgency_rank=2,
                    topics=["fire"],
                    place="12 Elm St",
                    district="north",
                    first_seen=NOW,
                    last_seen=NOW,
                    member_count=1,
                    created_at=NOW,
                )
            ).inserted_primary_key[0]
            conn.execute(
                incident_members.insert().values(
                    item_id=ids[mention_id],
                    incident_id=incident,
                    link="automatic",
                    score=1.0,
                    reason="similar",
                    model_version=name,
                    linked_at=NOW,
                )
            )
    for mention_id, days in (("fresh", 10), ("old", 100), ("ancient", 400)):
        work.add_note(
            engine,
            item_id=ids[mention_id],
            actor=ADMIN,
            now=NOW - timedelta(days=days),
            text="called the fire service",
        )
    with engine.begin() as conn:
        for days in (400, 800):
            access.record(
                conn,
                access.By("admin", None, "10.0.0.1"),
                access.AccessAction.ITEM_READ,
                obj=f"item:{ids['ancient']}",
                now=NOW - timedelta(days=days),
            )

    # Nothing has aged a day before the clock says so.
    assert scheduler.tick(engine, at(NOW - timedelta(days=400 - 89)), WINDOWS)["purged"] == 0

    # Two redacted (the old one, and the ancient one on its way out), one deleted, one access row.
    assert scheduler.tick(engine, at(NOW), WINDOWS)["purged"] == 4

    with engine.connect() as conn:
        rows = {r.mention_id: r for r in conn.execute(select(items))}
    assert set(rows) == {"fresh", "old"}
    old = rows["old"]
    assert old.text == ""
    assert old.mention["text"] == ""
    assert old.mention["author"] is None and old.mention["geo"] is None
    assert old.mention["url"] is None
    assert "smoke" not in str(old.mention) and "jane" not in str(old.mention).lower()
    assert old.reasons == [{"rule": "topics.fire", "label": "fire", "matched": []}]
    assert old.redacted_at is not None
    # The clustering's hashed copy of the text and the author's address go with it.
    assert (old.features, old.simhash, old.place) == (None, None, {"district": "north"})
    assert rows["fresh"].place == clustered["place"] and rows["fresh"].features is not None
    with engine.connect() as conn:
        rows_shown = conn.execute(
            select(incident_members.c.model_version, incidents.c.place, incidents.c.district).join(
                incidents, incidents.c.id == incident_members.c.incident_id
            )
        ).all()
    shown = {version: (place, district) for version, place, district in rows_shown}
    assert shown == {"old": (None, "north"), "fresh": ("12 Elm St", "north")}
    # What statistics need stays.
    assert (old.queue_id, old.urgency, old.mention["district"]) == ("general", "normal", "north")
    assert rows["fresh"].text == MENTION["text"]
    assert rows["fresh"].mention["author"]["handle"] == "@jane_doe"
    assert rows["fresh"].redacted_at is None

    assert count(engine, notes, notes.c.item_id == ids["ancient"]) == 0
    assert count(engine, audit, audit.c.item_id == ids["ancient"]) == 0
    assert count(engine, notes, notes.c.item_id == ids["old"]) == 1
    assert count(engine, audit, audit.c.item_id == ids["old"]) == 2  # queued, note_added
    # Who read the deleted item is still known (400 < 730 days); the 800-day row went.
    with engine.connect() as conn:
        kept = conn.execute(
            select(access_audit.c.at).where(access_audit.c.object == f"item:{ids['ancient']}")
        ).all()
        [run] = conn.execute(select(retention_runs)).all()
    assert len(kept) == 1
    assert run.finished_at is not None
    assert run.details == {
        "redacted": 2,
        "deleted": 1,
        "notes": 1,
        "replies": 0,
        "item_audit": 2,
        "access_audit": 1,
    }
    purges = count(engine, access_audit, access_audit.c.action == "retention_purged")
    assert purges == 1

    # Done is done: the next tick finds nothing, and the audit is append-only again.
    assert scheduler.tick(engine, at(NOW + timedelta(seconds=1)), WINDOWS)["purged"] == 0
    for statement in (
        "DELETE FROM audit",
        "DELETE FROM access_audit",
        "UPDATE audit SET actor = 'x'",
    ):
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
            conn.execute(text(statement))


def test_the_purge_drains_a_backlog_in_bounded_batches(any_engine, make_item):
    engine = any_engine
    save_items(engine, new_items=[aged(make_item, f"m{i}", 400) for i in range(5)])
    with engine.begin() as conn:
        done = purge(conn, now=NOW, retention=WINDOWS, batch=2)
    assert (done["redacted"], done["deleted"]) == (2, 2)
    for _ in range(3):
        scheduler.tick(engine, at(NOW), WINDOWS)
    assert count(engine, items) == 0


def test_upgrading_a_store_with_data_keeps_it_and_its_guards(request, tmp_path, make_item):
    for backend in ("postgresql", "sqlite"):
        url = (
            request.getfixturevalue("database_url")
            if backend == "postgresql"
            else f"sqlite:///{tmp_path}/old.db"
        )
        engine = make_engine(url)
        config = Config()
        config.set_main_option(
            "script_location", str(resources.files("switchboard_router.db").joinpath("migrations"))
        )
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "0002")
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO officers (id, name, role, on_duty, capacity, created_at) "
                    "VALUES ('admin', 'A', 'admin', false, 1, :t)"
                ),
                {"t": NOW},
            )
            conn.execute(
                text(
                    "INSERT INTO tokens (id, officer_id, token_hash, created_at) "
                    "VALUES ('tok_old', 'admin', :h, :t)"
                ),
                {"h": "0" * 64, "t": NOW},
            )
        [stored] = save_items(engine, new_items=[aged(make_item, "m1", 400)])
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO notes (item_id, officer_id, at, text) VALUES (:i, 'admin', :t, 'n')"
                ),
                {"i": stored.item_id, "t": NOW},
            )

        migrate(engine)

        with engine.connect() as conn:
            assert conn.scalar(select(tokens.c.bootstrap).where(tokens.c.id == "tok_old")) is True
        assert count(engine, notes) == 1 and count(engine, audit) == 1
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
            conn.execute(text("DELETE FROM audit"))
        assert scheduler.tick(engine, at(NOW + timedelta(days=1)), WINDOWS)["purged"] == 2
        assert count(engine, items) == 0 and count(engine, notes) == 0 and count(engine, audit) == 0
        engine.dispose()


def test_deleting_an_item_takes_its_notes_watches_and_trail_with_it(any_engine, make_item):
    # Before migration 0003 the foreign keys had no delete policy: an item could not go at all.
    engine = any_engine
    [stored] = save_items(engine, new_items=[aged(make_item, "m1", 400)])
    work.add_note(engine, item_id=stored.item_id, actor=ADMIN, now=NOW, text="n")
    with engine.begin() as conn:
        run = conn.execute(
            retention_runs.insert().values(started_at=NOW, finished_at=None, details={})
        ).inserted_primary_key[0]
        conn.execute(items.delete().where(items.c.id == stored.item_id))
        conn.execute(
            retention_runs.update().where(retention_runs.c.id == run).values(finished_at=NOW)
        )
    assert count(engine, notes) == 0 and count(engine, audit) == 0
