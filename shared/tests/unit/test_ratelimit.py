"""The token-bucket limiter: bursts, refill, per-key isolation, bounded memory."""

import pytest

from switchboard_shared.ratelimit import Decision, Limit, RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def limiter(rate: float = 2, burst: float = 5, **kw):
    clock = Clock()
    return RateLimiter(Limit(rate=rate, burst=burst), clock=clock, **kw), clock


def test_a_full_bucket_allows_the_burst_then_refuses_with_the_wait_for_one_token():
    rl, _ = limiter(rate=2, burst=5)
    assert [rl.take("k").allowed for _ in range(5)] == [True] * 5
    refused = rl.take("k")
    assert refused == Decision(allowed=False, wait_seconds=0.5)
    assert refused.retry_after == 1


def test_tokens_come_back_at_the_rate_and_never_beyond_the_burst():
    rl, clock = limiter(rate=2, burst=5)
    for _ in range(5):
        rl.take("k")
    clock.now += 1.0  # two tokens back
    assert [rl.take("k").allowed for _ in range(3)] == [True, True, False]
    clock.now += 3600  # a long idle time refills to the burst, not past it
    assert [rl.take("k").allowed for _ in range(6)] == [True] * 5 + [False]


def test_a_refused_request_takes_nothing_so_retrying_after_the_wait_passes():
    rl, clock = limiter(rate=1, burst=1)
    assert rl.take("k").allowed
    for _ in range(10):
        assert not rl.take("k").allowed
    clock.now += rl.take("k").wait_seconds
    assert rl.take("k").allowed


def test_each_key_has_its_own_bucket():
    rl, _ = limiter(rate=1, burst=2)
    assert [rl.take("a").allowed for _ in range(3)] == [True, True, False]
    assert rl.take("b").allowed


def test_a_cost_takes_that_many_tokens_and_a_cost_above_the_burst_never_passes():
    rl, clock = limiter(rate=10, burst=100)
    assert rl.take("k", 60).allowed
    refused = rl.take("k", 60)
    assert not refused.allowed and refused.wait_seconds == pytest.approx(2.0)
    clock.now += 100
    too_big = rl.take("k", 101)
    assert not too_big.allowed and too_big.retry_after == 1
    assert rl.take("k", 100).allowed


def test_a_key_may_bring_its_own_limit():
    rl, _ = limiter(rate=1, burst=1)
    generous = Limit(rate=1, burst=3)
    assert [rl.take("k", limit=generous).allowed for _ in range(4)] == [True] * 3 + [False]


def test_retry_after_is_whole_seconds_rounded_up():
    assert Decision(False, 0.01).retry_after == 1
    assert Decision(False, 1.2).retry_after == 2
    assert Decision(False, 3.0).retry_after == 3


def test_memory_is_bounded_by_dropping_the_least_recently_used_bucket():
    rl, _ = limiter(rate=1, burst=1, max_keys=3)
    for key in ("a", "b", "c"):
        rl.take(key)
    rl.take("a")  # a is now the most recently used
    for n in range(1000):
        rl.take(f"flood-{n}")
    assert len(rl) == 3
    rl2, _ = limiter(rate=1, burst=1, max_keys=3)
    for key in ("a", "b", "c"):
        rl2.take(key)
    rl2.take("a")
    rl2.take("d")  # drops b, the least recently used
    assert not rl2.take("a").allowed  # a's bucket was kept (still empty)
    assert not rl2.take("c").allowed
    assert rl2.take("b").allowed  # b was dropped, so it starts full again


@pytest.mark.parametrize(("rate", "burst"), [(0, 1), (-1, 1), (1, 0.5)])
def test_limits_that_make_no_sense_are_refused(rate, burst):
    with pytest.raises(ValueError):
        Limit(rate=rate, burst=burst)
