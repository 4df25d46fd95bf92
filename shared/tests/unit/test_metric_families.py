"""The families several services declare alike carry the same label in each."""

from switchboard_shared.metric_families import Failed, dead_letters, policy_reloads, retries


def test_each_family_is_a_counter_with_its_one_label():
    counters = {
        "reason": dead_letters("switchboard_family_test_deadlettered_total", "Dead letters."),
        "failed": retries("switchboard_family_test_retries_total", "Retries."),
        "outcome": policy_reloads("switchboard_family_test_policy_reloads_total", "Reloads."),
    }

    for label, counter in counters.items():
        assert counter._type == "counter"
        assert counter._labelnames == (label,)


def test_a_retry_names_what_failed_in_the_label_words_dashboards_use():
    assert {failed.value for failed in Failed} == {"kafka", "database"}
