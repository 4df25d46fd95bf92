import pytest

from switchboard_router.routing import DEFAULT_RULE, Policy, PolicyError, queue_slug
from switchboard_shared.events import Classification, MentionIn, Urgency


def mention(**extra):
    return MentionIn(
        source="x", source_id="1", text="t", created_at="2026-11-29T22:00:00Z", **extra
    )


def verdict(urgency, *topics):
    return Classification(
        urgency=urgency, score=0.8, topics=topics or ("irrelevant",), ruleset_version="v"
    )


@pytest.fixture(scope="module")
def policy():
    return Policy.load()


def test_critical_goes_to_the_emergency_queue(policy):
    decision = policy.route(mention(district="North"), verdict(Urgency.CRITICAL, "active_threat"))
    assert (decision.queue_id, decision.rule) == ("emergency", "critical-to-emergency")


def test_high_with_a_district_goes_to_that_districts_queue(policy):
    decision = policy.route(mention(district="South Bay"), verdict(Urgency.HIGH, "missing_person"))
    assert (decision.queue_id, decision.rule) == ("district-south-bay", "high-to-district")


def test_high_without_a_district_falls_through_to_the_next_rule(policy):
    decision = policy.route(mention(), verdict(Urgency.HIGH, "missing_person"))
    assert (decision.queue_id, decision.rule) == ("priority", "high-to-priority")


def test_topic_rules_and_the_default(policy):
    assert policy.route(mention(), verdict(Urgency.NORMAL, "traffic")).queue_id == "traffic"
    assert (
        policy.route(mention(), verdict(Urgency.LOW, "praise")).queue_id == "community-engagement"
    )
    decision = policy.route(mention(), verdict(Urgency.LOW))
    assert (decision.queue_id, decision.rule) == ("general", DEFAULT_RULE)


def test_queue_slugs_are_safe():
    assert queue_slug("  St. John's / East ") == "st-john-s-east"
    assert queue_slug("!!!") == "unknown"


@pytest.mark.parametrize(
    ("data", "named"),
    [
        ({"default_queue": "general"}, "version"),
        ({"version": "1", "default_queue": "General Queue"}, "default_queue"),
        (
            {
                "version": "1",
                "default_queue": "g",
                "rules": [{"name": "a", "queue": "q", "when": {"urgency": ["urgent"]}}],
            },
            "rule 'a'.when.urgency",
        ),
        (
            {
                "version": "1",
                "default_queue": "g",
                "rules": [{"name": "a", "queue": "q", "when": {"colour": ["red"]}}],
            },
            "rule 'a'.when",
        ),
        (
            {"version": "1", "default_queue": "g", "rules": [{"name": "a", "queue": "d-{street}"}]},
            "rule 'a'.queue",
        ),
        (
            {
                "version": "1",
                "default_queue": "g",
                "rules": [{"name": "a", "queue": "q"}, {"name": "a", "queue": "q"}],
            },
            "rule 'a'.name",
        ),
        ({"version": "1", "default_queue": "g", "rules": [{"queue": "q"}]}, "rules[0].name"),
    ],
)
def test_a_bad_policy_is_refused_naming_the_rule_and_field(data, named):
    with pytest.raises(PolicyError) as caught:
        Policy.from_mapping(data)
    assert named in str(caught.value)
