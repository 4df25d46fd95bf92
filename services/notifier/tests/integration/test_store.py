"""The notifier's tables work the same on SQLite (`make run`) and PostgreSQL; two schedulers
never claim one send."""

from datetime import UTC, datetime, timedelta

import pytest

from switchboard_notifier import store
from switchboard_notifier.answers import Outcome
from switchboard_notifier.grouping import SuppressReason
from switchboard_notifier.policy import parse
from switchboard_notifier.store import SendState
from switchboard_shared.database import make_engine

NOW = datetime(2026, 12, 3, 8, 0, tzinfo=UTC)


@pytest.fixture
def policy(policy_for):
    return parse(policy_for("http://127.0.0.1:1", 25))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request, tmp_path):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/switchboard-notifier.db"
    else:
        url = request.getfixturevalue("database_url")
    engine = make_engine(url)
    store.create_schema(engine)
    store.create_schema(engine)  # a second replica's start-up changes nothing
    yield engine
    engine.dispose()


def test_an_escalation_is_stored_once_and_its_sends_are_unique(engine, policy, make_escalation):
    event = make_escalation(at=NOW)
    first = store.record_escalation(engine, event=event, policy=policy, now=NOW)
    assert sum(first.scheduled.values()) == 4
    assert store.record_escalation(engine, event=event, policy=policy, now=NOW).decision is None
    same_wave = make_escalation(item_id=event.item_id, at=NOW)
    assert (
        store.record_escalation(engine, event=same_wave, policy=policy, now=NOW).decision
        is SuppressReason.SAME_WAVE
    )
    assert store.counts_by_state(engine) == {SendState.PENDING: 4}
    assert store.suppressed_count(engine) == 1


def test_an_escalation_no_rule_takes_is_stored_as_suppressed(engine, policy, make_escalation):
    recorded = store.record_escalation(
        engine, event=make_escalation(notify=None), policy=policy, now=NOW
    )
    assert recorded.decision is SuppressReason.NO_RULE
    assert store.suppressed_count(engine) == 1


def test_claimed_sends_are_not_claimed_again_until_the_lease_runs_out(
    engine, policy, make_escalation
):
    store.record_escalation(engine, event=make_escalation(at=NOW), policy=policy, now=NOW)
    claimed, _ = store.claim_due(engine, now=NOW, limit=10, lease_seconds=60)
    assert len(claimed) == 4
    assert store.claim_due(engine, now=NOW, limit=10, lease_seconds=60) == ([], [])
    later = NOW + timedelta(seconds=61)
    again, unknown = store.claim_due(engine, now=later, limit=10, lease_seconds=60)
    # Past the lease: webhook and PagerDuty dedupe, so they go again; email and SMS end unknown.
    assert sorted(s.channel.value for s in again) == ["pagerduty", "webhook"]
    assert all(s.resumed and s.attempts == 2 for s in again)
    assert sorted(s.channel.value for s in unknown) == ["email", "sms"]
    assert store.counts_by_state(engine)[SendState.UNKNOWN] == 2


def test_a_retried_send_is_due_again_at_its_retry_time(engine, policy, make_escalation):
    store.record_escalation(engine, event=make_escalation(at=NOW), policy=policy, now=NOW)
    claimed, _ = store.claim_due(engine, now=NOW, limit=1, lease_seconds=60)
    retry_at = NOW + timedelta(seconds=30)
    store.finish(engine, send_id=claimed[0].id, outcome=Outcome.RETRY, now=NOW, retry_at=retry_at)
    due = store.claim_due(engine, now=NOW + timedelta(seconds=1), limit=10, lease_seconds=60)[0]
    assert claimed[0].id not in {s.id for s in due}
    (retried,) = [
        s
        for s in store.claim_due(engine, now=retry_at, limit=10, lease_seconds=60)[0]
        if s.id == claimed[0].id
    ]
    assert retried.attempts == 2


@pytest.mark.postgres
def test_two_schedulers_never_claim_the_same_send(database_url, policy, make_escalation):
    engine = make_engine(database_url)
    store.create_schema(engine)
    for item_id in range(1, 11):
        store.record_escalation(
            engine, event=make_escalation(item_id=item_id, at=NOW), policy=policy, now=NOW
        )
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(4) as pool:
        results = list(
            pool.map(
                lambda _: store.claim_due(engine, now=NOW, limit=7, lease_seconds=60)[0], range(8)
            )
        )
    ids = [s.id for batch in results for s in batch]
    assert len(ids) == len(set(ids)) == 40
    engine.dispose()
