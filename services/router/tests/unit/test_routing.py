import pytest

from switchboard_router.routing.policy import DEFAULT_RULE, Policy
from switchboard_router.routing.rules import PolicyError, queue_slug
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
    decision = policy.explain(mention(district="North"), verdict(Urgency.CRITICAL, "active_threat"))
    assert (decision.queue_id, decision.rule) == ("emergency", "critical-to-emergency")


def test_high_with_a_district_goes_to_that_districts_queue(policy):
    decision = policy.explain(mention(district="South"), verdict(Urgency.HIGH, "missing_person"))
    assert (decision.queue_id, decision.rule) == ("district-south", "high-to-district")
    harbour = policy.explain(mention(district="HARBOUR"), verdict(Urgency.HIGH, "missing_person"))
    assert harbour.queue_id == "district-harbor"  # an alias, any case


@pytest.mark.parametrize("stated", ["x" * 200, "Atlantis", "South Bay", "south-" + "b" * 250])
def test_a_district_the_policy_does_not_know_builds_no_queue(policy, stated):
    # The attack: a 200-character district made "district-xxxx..." (73 characters), longer than
    # the store's queue id column; any other unknown one would have made a new queue.
    decision = policy.explain(mention(district=stated), verdict(Urgency.HIGH, "missing_person"))
    assert (decision.queue_id, decision.rule) == ("priority", "high-to-priority")
    [step] = [s for s in decision.trace if s.rule == "high-to-district"]
    assert step.outcome == "skipped" and "not in `districts`" in step.reason


def test_a_template_that_would_build_a_bad_queue_id_is_skipped():
    policy = Policy.from_mapping(
        {"version": "1", "default_queue": "g", "rules": [{"name": "l", "queue": "lang-{language}"}]}
    )
    short = Classification(
        urgency=Urgency.LOW, score=0.5, topics=(), ruleset_version="v", language="es"
    )
    assert policy.explain(mention(), short).queue_id == "lang-es"
    long = short.model_copy(update={"language": "q" * 80})
    decision = policy.explain(mention(), long)
    assert decision.queue_id == "g"
    assert "not a valid queue id" in decision.trace[0].reason


def test_high_without_a_district_falls_through_to_the_next_rule(policy):
    decision = policy.explain(mention(), verdict(Urgency.HIGH, "missing_person"))
    assert (decision.queue_id, decision.rule) == ("priority", "high-to-priority")


def test_topic_rules_and_the_default(policy):
    assert policy.explain(mention(), verdict(Urgency.NORMAL, "traffic")).queue_id == "traffic"
    assert (
        policy.explain(mention(), verdict(Urgency.LOW, "praise")).queue_id == "community-engagement"
    )
    decision = policy.explain(mention(), verdict(Urgency.LOW))
    assert (decision.queue_id, decision.rule) == ("general", DEFAULT_RULE)


def test_queue_slugs_are_safe():
    assert queue_slug("  St. John's / East ") == "st-john-s-east"
    assert queue_slug("!!!") == "unknown"


def policy_of(**parts):
    """A policy mapping of version 1 with default queue `g`, and the parts given."""
    return {"version": "1", "default_queue": "g", **parts}


@pytest.mark.parametrize(
    ("data", "named"),
    [
        ({"default_queue": "general"}, "version"),
        ({"version": "1", "default_queue": "General Queue"}, "default_queue"),
        (
            policy_of(rules=[{"name": "a", "queue": "q", "when": {"urgency": ["urgent"]}}]),
            "rule 'a'.when.urgency",
        ),
        (
            policy_of(rules=[{"name": "a", "queue": "q", "when": {"colour": ["red"]}}]),
            "rule 'a'.when",
        ),
        (
            policy_of(rules=[{"name": "a", "queue": "d-{street}"}]),
            "rule 'a'.queue",
        ),
        (
            policy_of(rules=[{"name": "a", "queue": "q"}, {"name": "a", "queue": "q"}]),
            "rule 'a'.name",
        ),
        (policy_of(rules=[{"queue": "q"}]), "rules[0].name"),
        (
            policy_of(rules=[{"name": "d", "queue": "d-{district}"}]),
            "rule 'd'.queue",
        ),
        (
            policy_of(
                districts={"north": []},
                rules=[{"name": "d", "queue": "q", "when": {"districts": ["South"]}}],
            ),
            "rule 'd'.when.districts",
        ),
        (
            policy_of(rules=[{"name": "d", "queue": "q", "when": {"has": ["district"]}}]),
            "rule 'd'.when",
        ),
        (policy_of(districts={"x" * 33: []}), "districts["),
        (
            policy_of(districts={"a": ["Same"], "b": ["same"]}),
            "districts['b']",
        ),
        (
            policy_of(transfers={"allowed": {"q": "general"}}),
            "transfers.allowed['q']",
        ),
        (
            policy_of(transfers={"supervisor_urgency": ["dire"]}),
            "transfers.supervisor_urgency",
        ),
    ],
)
def test_a_bad_policy_is_refused_naming_the_rule_and_field(data, named):
    with pytest.raises(PolicyError) as caught:
        Policy.from_mapping(data)
    assert named in str(caught.value)


def rich_policy():
    return Policy.from_mapping(
        {
            "version": "2",
            "default_queue": "general",
            "rules": [
                {"name": "reach", "when": {"author_min_followers": 1000}, "watch": ["media-watch"]},
                {"name": "verified", "when": {"author_verified": True}, "raise_priority": 1},
                {"name": "stadium", "when": {"text_matches": "(?i)stadium"}, "queue": "events"},
                {
                    "name": "north",
                    "when": {"districts": ["North Side"], "languages": ["es"]},
                    "queue": "north-es",
                },
                {
                    "name": "app",
                    "when": {"sources": ["app"], "topics_all": ["noise", "night"]},
                    "queue": "noise",
                },
            ],
            "queues": {"events": {"assignment": "round_robin", "supervisor_queue": "events-lead"}},
            "districts": {"north-side": ["Northside"]},
        }
    )


def test_tagging_rules_add_watch_queues_and_priority_and_evaluation_goes_on():
    author = {"handle": "a", "follower_count": 5000, "verified": True}
    crowd = MentionIn(
        source="x",
        source_id="1",
        text="Crush at the STADIUM",
        created_at="2026-11-29T22:00:00Z",
        author=author,
    )
    decision = rich_policy().explain(crowd, verdict(Urgency.HIGH))
    assert (decision.queue_id, decision.rule) == ("events", "stadium")
    assert decision.watch_queues == ("media-watch",)
    assert decision.priority_boost == 1
    assert [s.outcome for s in decision.trace] == ["tagged", "tagged", "placed"]


def test_district_language_source_and_all_topics_conditions():
    policy = rich_policy()
    assert (
        policy.explain(mention(district="north side", language="es"), verdict(Urgency.LOW)).queue_id
        == "north-es"
    )
    assert (
        policy.explain(mention(district="north side", language="en"), verdict(Urgency.LOW)).queue_id
        == "general"
    )
    noisy = MentionIn(source="app", source_id="1", text="t", created_at="2026-11-29T22:00:00Z")
    assert policy.explain(noisy, verdict(Urgency.LOW, "noise", "night")).queue_id == "noise"
    assert policy.explain(noisy, verdict(Urgency.LOW, "noise")).queue_id == "general"


def test_the_classifiers_district_wins_over_the_mentions():
    class WithDistrict:
        def __init__(self, base, district):
            self._base, self.district = base, district

        def __getattr__(self, name):
            return getattr(self._base, name)

    decision = Policy.load().explain(
        mention(district="North"), WithDistrict(verdict(Urgency.HIGH), "South")
    )
    assert decision.queue_id == "district-south"
    # An unknown district from the classifier (it echoes a stated one it cannot place)
    # gives way to the mention's known one.
    decision = Policy.load().explain(
        mention(district="North"), WithDistrict(verdict(Urgency.HIGH), "y" * 200)
    )
    assert decision.queue_id == "district-north"


@pytest.mark.parametrize(
    ("source", "target", "urgency", "allowed"),
    [
        ("general", "traffic", Urgency.NORMAL, True),
        ("district-north", "district-south", Urgency.HIGH, True),
        ("general", "emergency", Urgency.HIGH, True),  # raising it is an officer's call
        ("emergency", "general", Urgency.HIGH, False),  # nothing leaves emergency
        ("emergency", "emergency", Urgency.CRITICAL, True),  # not a move
        ("general", "traffic", Urgency.CRITICAL, False),  # a critical item needs a supervisor
        ("professional-standards", "general", Urgency.LOW, False),
        ("general", "professional-standards", Urgency.LOW, False),  # not a listed destination
    ],
)
def test_the_shipped_policy_says_where_officers_may_transfer(source, target, urgency, allowed):
    assert Policy.load().may_transfer(source, target, urgency) is allowed


def test_a_policy_without_transfers_lets_officers_move_nothing():
    policy = Policy.from_mapping({"version": "1", "default_queue": "g"})
    assert not policy.may_transfer("g", "h", Urgency.LOW)
    assert policy.may_transfer("g", "g", Urgency.LOW)


def test_queue_settings_come_from_the_first_matching_entry_else_an_open_pool():
    policy = rich_policy()
    assert policy.queue_settings("events").supervisor_queue == "events-lead"
    assert policy.queue_settings("events").assignment.value == "round_robin"
    assert policy.queue_settings("other").assignment.value == "open"
    shipped = Policy.load()
    assert shipped.queue_settings("district-north").assignment.value == "round_robin"


@pytest.mark.parametrize(
    ("rule", "named"),
    [
        ({"name": "a", "queue": "q", "when": {"text_matches": "("}}, "rule 'a'.when.text_matches"),
        (
            {"name": "a", "queue": "q", "when": {"author_min_followers": -1}},
            "rule 'a'.when.author_min_followers",
        ),
        ({"name": "a"}, "rule 'a'.queue"),
        ({"name": "a", "watch": ["Not A Queue"]}, "rule 'a'.watch"),
        ({"name": "a", "queue": "q", "colour": "red"}, "rule 'a'"),
    ],
)
def test_bad_richer_rules_are_refused_naming_the_rule_and_field(rule, named):
    with pytest.raises(PolicyError) as caught:
        Policy.from_mapping({"version": "1", "default_queue": "g", "rules": [rule]})
    assert named in str(caught.value)
