"""The responder exports its counter series at zero, and its channel gauges, from start-up.

The metrics live in prometheus_client's global registry (one per process): the
channel names here are used by no other test, so their series cannot have been counted.
"""

from conftest import exposed, series
from switchboard_responder import metrics


def test_every_outcome_and_answer_series_of_a_channel_exists_at_zero():
    metrics.initialise(channels=["metrics-test-mastodon"])
    samples = exposed()
    for status in metrics.OUTCOME_STATUSES:
        key = series(
            "switchboard_responder_outcomes_total", channel="metrics-test-mastodon", status=status
        )
        assert samples[key] == 0
    answers = series(
        "switchboard_responder_platform_answers_total",
        channel="metrics-test-mastodon",
        verdict="auth_error",
    )
    assert samples[answers] == 0
    for reason in metrics.DEAD_LETTER_REASONS:
        assert series("switchboard_responder_deadlettered_total", reason=reason) in samples


def test_a_configured_channel_starts_without_an_auth_error():
    metrics.initialise(channels=["metrics-test-x"])
    samples = exposed()
    assert (
        samples[series("switchboard_responder_channel_auth_error", channel="metrics-test-x")] == 0
    )
    assert (
        samples[series("switchboard_responder_channel_rate_limited", channel="metrics-test-x")] == 0
    )
