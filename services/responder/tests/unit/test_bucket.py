"""A channel's token bucket follows what the platform's headers say."""

from datetime import UTC, datetime, timedelta

from switchboard_responder.bucket import NO_WAIT, RateLimit, TokenBucket

NOW = datetime(2026, 12, 3, 8, 0, tzinfo=UTC)
RESET = NOW + timedelta(seconds=30)


def test_an_unknown_window_lets_sends_through():
    bucket = TokenBucket()
    assert all(bucket.take(NOW) == NO_WAIT for _ in range(100))


def test_the_remaining_count_is_spent_then_sends_wait_for_the_reset():
    bucket = TokenBucket()
    bucket.observe(RateLimit(limit=300, remaining=2, reset_at=RESET))
    assert bucket.take(NOW) == NO_WAIT
    assert bucket.take(NOW) == NO_WAIT
    assert bucket.take(NOW) == timedelta(seconds=30)
    assert bucket.take(NOW + timedelta(seconds=10)) == timedelta(seconds=20)


def test_at_the_reset_the_window_opens_again():
    bucket = TokenBucket()
    bucket.observe(RateLimit(limit=300, remaining=0, reset_at=RESET))
    assert bucket.take(NOW) > NO_WAIT
    assert bucket.take(RESET) == NO_WAIT


def test_each_answer_replaces_the_count():
    bucket = TokenBucket()
    bucket.observe(RateLimit(limit=300, remaining=0, reset_at=RESET))
    bucket.observe(RateLimit(limit=300, remaining=5, reset_at=RESET))
    assert bucket.take(NOW) == NO_WAIT
    assert bucket.remaining == 4


def test_an_answer_without_headers_changes_nothing():
    bucket = TokenBucket()
    bucket.observe(RateLimit(limit=300, remaining=0, reset_at=RESET))
    bucket.observe(None)
    assert bucket.take(NOW) == timedelta(seconds=30)


def test_a_hold_from_a_429_wins_over_a_count_that_says_go():
    bucket = TokenBucket()
    bucket.observe(RateLimit(limit=300, remaining=100, reset_at=RESET))
    bucket.hold_until(NOW + timedelta(seconds=5))
    assert bucket.take(NOW) == timedelta(seconds=5)
    assert bucket.take(NOW + timedelta(seconds=5)) == NO_WAIT


def test_a_shorter_hold_never_shortens_a_longer_one():
    bucket = TokenBucket()
    bucket.hold_until(NOW + timedelta(seconds=10))
    bucket.hold_until(NOW + timedelta(seconds=2))
    assert bucket.take(NOW) == timedelta(seconds=10)


def test_no_tokens_and_no_reset_time_does_not_stall_the_channel_forever():
    bucket = TokenBucket()
    bucket.observe(RateLimit(limit=None, remaining=0, reset_at=None))
    assert bucket.take(NOW) == NO_WAIT
