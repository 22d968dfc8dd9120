"""The per-source token bucket: burst, sustained rate, refill, bounded memory."""

import pytest

from sipcore.security import TokenBucketLimiter


def test_a_source_gets_its_burst_then_its_rate():
    limiter = TokenBucketLimiter(rate=10, burst=5)
    assert [limiter.allow("1.2.3.4", 0.0) for _ in range(6)] == [True] * 5 + [False]
    assert limiter.allow("1.2.3.4", 0.05) is False  # half a token
    assert limiter.allow("1.2.3.4", 0.1) is True
    assert limiter.allow("1.2.3.4", 0.1) is False


def test_an_idle_source_refills_to_its_burst_and_no_further():
    limiter = TokenBucketLimiter(rate=10, burst=3)
    for _ in range(3):
        limiter.allow("a", 0.0)
    results = [limiter.allow("a", 100.0) for _ in range(4)]
    assert results == [True, True, True, False]


def test_sources_do_not_share_buckets():
    limiter = TokenBucketLimiter(rate=1, burst=1)
    assert limiter.allow("a", 0.0) is True
    assert limiter.allow("a", 0.0) is False
    assert limiter.allow("b", 0.0) is True


def test_memory_is_bounded_least_recently_seen_source_forgotten_first():
    limiter = TokenBucketLimiter(rate=1, burst=1, max_sources=2)
    limiter.allow("a", 0.0)
    limiter.allow("b", 0.0)
    limiter.allow("a", 0.0)  # a is now the most recent, b the least
    limiter.allow("c", 0.0)
    assert len(limiter) == 2
    assert limiter.allow("a", 0.0) is False  # still tracked: empty
    assert limiter.allow("b", 0.0) is True  # forgotten: a full bucket again


def test_a_clock_going_backwards_adds_no_tokens():
    limiter = TokenBucketLimiter(rate=100, burst=1)
    assert limiter.allow("a", 10.0) is True
    assert limiter.allow("a", 5.0) is False


@pytest.mark.parametrize(("rate", "burst", "size"), [(0, 1, 1), (1, 0.5, 1), (1, 1, 0)])
def test_bad_limits_are_refused(rate, burst, size):
    with pytest.raises(ValueError):
        TokenBucketLimiter(rate=rate, burst=burst, max_sources=size)
