"""The router exports every counter series it knows it can produce, at zero, from start-up.

The metrics live in prometheus_client's global registry (one per process), so
other tests may already have counted some series: a series absent before
`initialise` must then read 0, and one already counted must keep its count.
Queues named only in these tests (`metrics-test-...`) cannot have been counted.
"""

import os
from types import SimpleNamespace

from prometheus_client import REGISTRY
from sqlalchemy import create_engine, insert

from conftest import exposed, series
from switchboard_router import gauges, metrics
from switchboard_router.bootstrap import create_app
from switchboard_router.db.engine import make_engine, migrate
from switchboard_router.db.tables import queues
from switchboard_router.kafka.consumer import prepare
from switchboard_router.routing.holder import PolicyHolder
from switchboard_router.routing.policy import Policy
from switchboard_router.settings import RouterSettings
from switchboard_shared.events import (
    Classification,
    DeadLetter,
    MentionClassified,
    MentionIn,
    Urgency,
    utc_now,
)
from switchboard_shared.kafka import encode

POLICY = """
version: "metrics-test"
default_queue: metrics-test-general
rules:
  - {name: critical, when: {urgency: [critical]}, queue: metrics-test-emergency}
  - {name: district, when: {has: [district]}, queue: "metrics-test-district-{district}"}
  - {name: wide, when: {author_min_followers: 1000}, watch: [metrics-test-watch]}
queues:
  metrics-test-emergency: {supervisor_queue: metrics-test-inspector}
  "metrics-test-district-*": {assignment: round_robin}
districts: {north: []}
sla:
  - name: critical
    queues: [metrics-test-emergency, metrics-test-inspector]
    urgency: [critical]
    claim_seconds: 60
    ack_seconds: 120
    ladder:
      - {after_seconds: 0, escalate: true}
      - {after_seconds: 60, move_to: supervisor, escalate: true}
      - {after_seconds: 120, move_to: metrics-test-last-resort}
"""


def test_the_policy_names_its_fixed_queues_but_not_templates_or_globs():
    assert Policy.parse(POLICY).named_queues == {
        "metrics-test-general",
        "metrics-test-emergency",
        "metrics-test-watch",
        "metrics-test-inspector",
        "metrics-test-last-resort",
    }


def test_initialise_exports_the_known_series_at_zero_and_keeps_counts():
    expected = [
        series("switchboard_router_deadlettered_total", reason=r)
        for r in metrics.DEAD_LETTER_REASONS
    ]
    expected += [series("switchboard_router_retries_total", failed=f) for f in metrics.Failed]
    expected += [
        series("switchboard_router_policy_reloads_total", outcome=o) for o in metrics.ReloadOutcome
    ]
    expected += [
        series(f"switchboard_router_time_to_{step}_seconds_count", urgency=u)
        for step in ("claim", "acknowledge", "resolve")
        for u in Urgency
    ]
    before = exposed()

    metrics.initialise(Policy.load())

    after = exposed()
    for s in expected:
        assert s in after, f"{s} not exported"
        assert after[s] == before.get(s, 0.0), f"{s} is {after[s]}"


class BrokenPolicy:
    """A policy whose routing raises, as a bug in a rule would."""

    version = "broken"

    def route(self, *args: object) -> None:
        raise RuntimeError("a rule raised")


def test_every_reason_the_consumer_dead_letters_with_is_exported():
    classified = MentionClassified(
        mention_id="m-1",
        received_at=utc_now(),
        mention=MentionIn(source="x", source_id="1", text="hi", created_at=utc_now()),
        classification=Classification(
            urgency=Urgency.LOW, score=0.1, topics=(), ruleset_version="t"
        ),
    )
    values = [None, b"not json", b"{}", encode(classified)]
    policies = [Policy.load()] * 3 + [BrokenPolicy()]
    metrics.initialise(Policy.load())

    for value, policy in zip(values, policies, strict=True):
        record = SimpleNamespace(topic="t", partition=0, offset=0, value=value)
        letter = prepare(policy, record)  # type: ignore[arg-type]
        assert isinstance(letter, DeadLetter), value
        assert letter.reason in metrics.DEAD_LETTER_REASONS
        labels = {"reason": letter.reason}
        assert (
            REGISTRY.get_sample_value("switchboard_router_deadlettered_total", labels) is not None
        )


def test_each_named_queue_gets_its_queued_breach_escalation_and_expiry_series():
    metrics.initialise(Policy.parse(POLICY))

    after = exposed()
    for urgency in Urgency:
        for queue in ("metrics-test-general", "metrics-test-watch", "metrics-test-last-resort"):
            assert (
                after[series("switchboard_router_queued_total", queue=queue, urgency=urgency)] == 0
            )
    for breach in ("claim", "ack"):
        labels = {"queue": "metrics-test-emergency", "breach": breach}
        assert after[series("switchboard_router_sla_breaches_total", **labels)] == 0
    for tier in ("1", "2", "3"):
        labels = {"queue": "metrics-test-inspector", "tier": tier}
        assert after[series("switchboard_router_escalations_total", **labels)] == 0
    assert (
        series("switchboard_router_escalations_total", queue="metrics-test-emergency", tier="4")
        not in after
    )
    assert (
        after[series("switchboard_router_expired_claims_total", queue="metrics-test-general")] == 0
    )
    # No SLA covers the default queue: it can neither breach nor escalate.
    assert (
        series(
            "switchboard_router_sla_breaches_total", queue="metrics-test-general", breach="claim"
        )
        not in after
    )
    assert not any(
        name == "switchboard_router_escalations_total"
        and ("queue", "metrics-test-general") in labels
        for name, labels in after
    )


def test_building_the_app_initialises_the_policy_in_force():
    policy = Policy.parse(POLICY.replace("metrics-test-general", "metrics-test-app-start"))

    create_app(RouterSettings(), create_engine("sqlite://"), policy, consume=False, clock=False)

    labels = {"queue": "metrics-test-app-start", "urgency": "low"}
    assert REGISTRY.get_sample_value("switchboard_router_queued_total", labels) == 0.0


def test_a_reloaded_policy_brings_its_new_queues(tmp_path):
    path = tmp_path / "policy.yaml"
    path.write_text('version: "1"\ndefault_queue: general\n')
    holder = PolicyHolder.load(path)
    path.write_text('version: "2"\ndefault_queue: metrics-test-reloaded\n')
    os.utime(path, ns=(1, 1))

    assert holder.maybe_reload() is True

    labels = {"queue": "metrics-test-reloaded", "urgency": "critical"}
    assert REGISTRY.get_sample_value("switchboard_router_queued_total", labels) == 0.0


def test_a_queue_the_database_knows_gets_its_series_at_the_next_gauge_reading(tmp_path):
    # A real (SQLite) store that knows a queue the policy does not name.
    engine = make_engine(f"sqlite:///{tmp_path}/router.db")
    migrate(engine)
    with engine.begin() as conn:
        conn.execute(insert(queues).values(id="metrics-test-district-north"))
    labels = {"queue": "metrics-test-district-north", "urgency": "high"}
    assert REGISTRY.get_sample_value("switchboard_router_queued_total", labels) is None

    gauges.observe_database(engine, Policy.load())

    assert REGISTRY.get_sample_value("switchboard_router_queued_total", labels) == 0.0
    breach = {"queue": "metrics-test-district-north", "breach": "claim"}
    assert REGISTRY.get_sample_value("switchboard_router_sla_breaches_total", breach) == 0.0
