import dataclasses
import re

import pytest

from switchboard_classifier.prefilter import _prefilter_source
from switchboard_classifier.rules import Ruleset, RulesetError, classify_text, evaluate
from switchboard_shared.events import Urgency


@pytest.fixture(scope="module")
def ruleset():
    return Ruleset.load()


@pytest.mark.parametrize(
    "text",
    [
        "someone just got shot outside the Shell on 5th and Main",
        "Shots fired near the school right now",
        "There's a guy waving a gun in the parking lot, I'm hiding in my car",
        "HELP my neighbor collapsed and he's not breathing",
        "House on fire on Oak Street, flames coming out of the windows right now",
        "Hay un tiroteo en la calle 8, escuché disparos ahora mismo",
    ],
)
def test_emergencies_are_critical(ruleset, text):
    result = classify_text(ruleset, text)
    assert result.urgency is Urgency.CRITICAL, result
    assert result.reasons, "a critical decision must say why"


@pytest.mark.parametrize(
    "text",
    [
        "this new album is fire",
        "killing it at the fundraiser tonight",
        "I'm dying lol",
        "He's on fire tonight, 40 points already",
        "Shooting hoops at Jefferson park if anyone wants to join",
        "Thank you to the officers who helped my grandma today",
    ],
)
def test_idioms_chatter_and_praise_are_low(ruleset, text):
    assert classify_text(ruleset, text).urgency is Urgency.LOW


def test_an_idiom_suppression_is_given_as_a_reason(ruleset):
    result = classify_text(ruleset, "He's on fire tonight")
    assert [(r.rule, r.label) for r in result.reasons] == [("idiom", "fire")]
    assert result.topics == ("irrelevant",)


def test_negation_makes_an_active_threat_a_report_after_the_fact(ruleset):
    plain = classify_text(ruleset, "Shots fired on Kent Ave")
    negated = classify_text(ruleset, "Shots fired on Kent Ave, no one was hurt")
    assert plain.urgency is Urgency.CRITICAL
    assert negated.urgency is Urgency.NORMAL
    assert any(r.rule == "negation" for r in negated.reasons)


def test_property_crime_in_progress_is_high_and_after_the_fact_normal(ruleset):
    assert classify_text(ruleset, "Someone broke into my car last night").urgency is Urgency.NORMAL
    assert (
        classify_text(ruleset, "I can see someone breaking into a car right now").urgency
        is Urgency.HIGH
    )


def test_reasons_name_the_matched_words(ruleset):
    result = classify_text(ruleset, "Loud party next door again")
    assert result.topics == ("noise_nuisance",)
    reason = next(r for r in result.reasons if r.label == "noise_nuisance")
    assert reason.rule == "topics.noise_nuisance"
    assert reason.matched == ("Loud party",)


def test_every_decision_records_the_ruleset_version(ruleset):
    assert classify_text(ruleset, "anything at all").ruleset_version == ruleset.version


def test_each_lexicon_of_each_pack_compiles_to_one_regex(ruleset):
    assert {"en", "es"} <= set(ruleset.packs)
    for pack in ruleset.packs.values():
        assert isinstance(pack.topic_regex, re.Pattern)
        assert all(isinstance(rx, re.Pattern) for rx in pack.cue_regexes.values())


def test_the_spanish_pack_is_used_for_spanish_and_not_for_english(ruleset):
    spanish = classify_text(ruleset, "hay un tiroteo en la calle 8", "es")
    assert spanish.urgency is Urgency.CRITICAL
    assert ("topics.active_threat", ("tiroteo",)) in [(r.rule, r.matched) for r in spanish.reasons]
    english = classify_text(ruleset, "hay un tiroteo en la calle 8", "en")
    assert not any(r.rule == "topics.active_threat" for r in english.reasons)


def test_a_language_without_a_pack_gets_only_the_rules_for_every_language(ruleset):
    result = classify_text(ruleset, "Tem um homem armado atirando na praça", "pt")
    assert [r.rule for r in result.reasons] == ["topics.active_threat"]


@pytest.mark.parametrize(
    "text",
    [
        "Shooting in Chicago leaves two injured, police say",
        "laser tag party at the mall, I got shot like 50 times",
        "my little brother broke into my snack stash again lol",
    ],
)
def test_news_from_elsewhere_games_and_jokes_are_held_down(ruleset, text):
    result = classify_text(ruleset, text, "en")
    assert result.urgency is Urgency.LOW
    assert any(r.rule == "suppressed" for r in result.reasons)


def test_a_threat_to_life_is_critical_whatever_the_topic(ruleset):
    result = classify_text(ruleset, "bus vs car at 9th, people trapped in the car", "en")
    assert result.urgency is Urgency.CRITICAL
    assert ("danger", ("trapped",)) in [(r.rule, r.matched) for r in result.reasons]


@pytest.mark.parametrize(
    ("yaml_text", "named"),
    [
        ("topics: {fire: [fire]}", "version"),
        ("version: v1\ntopics: {fire: ['(unclosed']}", "topics.fire[0]"),
        (
            "version: v1\ntopics: {fire: [fire]}\nurgency: {critical_topics: [flood]}",
            "urgency.critical_topics",
        ),
        ("version: v1\ntopics: {fire: fire}", "topics.fire"),
    ],
)
def test_a_bad_ruleset_is_refused_naming_the_place(yaml_text, named):
    with pytest.raises(RulesetError) as caught:
        Ruleset.from_yaml(yaml_text)
    assert named in str(caught.value)


def test_the_prefilter_changes_no_verdict(ruleset, gold_records):
    # The Hyperscan pass only skips patterns that cannot match, so every gold
    # text (with its language, and with none: every pack) gets the same verdict.
    assert ruleset.prefilter is not None
    plain = dataclasses.replace(ruleset, prefilter=None)
    texts = [(record["text"], record["lang"]) for record in gold_records]
    assert len(texts) >= 1000
    for text, language in texts:
        for lang in (language, None):
            assert evaluate(ruleset, text, lang) == evaluate(plain, text, lang), (text, lang)


def test_the_prefilter_runs_only_the_patterns_that_may_match(ruleset):
    english = ruleset.prefilter.plan("shots fired near the school")["en"]
    assert "topics" in english and "idioms" not in english and "negation" not in english
    assert len(english["topics"].pattern) < len(ruleset.packs["en"].topic_regex.pattern) / 5
    assert "topics" not in ruleset.prefilter.plan("nothing to see here").get("en", {})


@pytest.mark.parametrize(
    ("pattern", "widened", "unicode_classes"),
    [
        (r"smash(?:ed|ing) (?:\w+ )?windows?", r"smash(?:ed|ing) (?:\S+ )?windows?", False),
        (r"calle \d+", r"calle \S+", False),
        (r"[\w']+ rob", r"[\w']+ rob", True),  # inside a class: kept, with Unicode classes
        (r"[]a]\w", r"[]a]\S", False),
        (r"\bfoo\W", r"\bfoo\W", True),
        (r"a\\w", r"a\\w", False),  # an escaped backslash, then a letter
    ],
)
def test_prefilter_sources_widen_word_classes_to_a_superset(pattern, widened, unicode_classes):
    assert _prefilter_source(pattern) == (widened, unicode_classes)


def test_a_pattern_hyperscan_refuses_is_always_run():
    ruleset = Ruleset.from_yaml(
        'version: "t"\ntopics:\n  fire: ["x?", "flames"]\n'  # "x?" matches the empty string
    )
    assert ruleset.prefilter is not None
    assert classify_text(ruleset, "flames everywhere").topics == ("fire",)
    assert "topics" in ruleset.prefilter.plan("calm")["*"]  # run though nothing matched


def _urgency_by_intersections(ruleset, topics, negated, danger, pressing, witnessed):
    """The rule urgency as first written: the topics intersected with each group in turn."""
    groups = ruleset.urgency_groups
    topics = set(topics)
    if topics & groups["critical_topics"]:
        return (Urgency.NORMAL, False) if negated else (Urgency.CRITICAL, True)
    if danger and not negated:
        return Urgency.CRITICAL, True
    if topics & groups["escalating_topics"]:
        urgency = Urgency.NORMAL if negated else Urgency.CRITICAL if pressing else Urgency.HIGH
        return urgency, urgency is Urgency.CRITICAL
    if topics & groups["high_topics"]:
        return (Urgency.NORMAL if negated else Urgency.HIGH), False
    if topics & groups["in_progress_topics"]:
        return (Urgency.HIGH if witnessed and not negated else Urgency.NORMAL), False
    if topics & groups["normal_topics"]:
        return Urgency.NORMAL, False
    return Urgency.LOW, False


def test_the_first_group_table_gives_the_urgency_the_group_intersections_give(ruleset):
    import itertools

    from switchboard_classifier.rules import topic_urgency

    # Also a topic in two groups (the first decides) and a topic in none.
    groups = dict(ruleset.urgency_groups)
    groups["high_topics"] = groups["high_topics"] | {"fire"}
    twice = dataclasses.replace(ruleset, urgency_groups=groups)
    names = [*ruleset.topic_names, "in_no_group"]
    checked = 0
    for rules in (ruleset, twice):
        for size in (1, 2, 3):
            for topics in itertools.combinations(names, size):
                for flags in itertools.product((False, True), repeat=4):
                    expected = _urgency_by_intersections(rules, topics, *flags)
                    assert topic_urgency(rules, topics, *flags) == expected, (topics, flags)
                    checked += 1
    assert checked > 10_000
