import pytest

from sipcore.policy import (
    CallRateLimiter,
    ConcurrentCalls,
    DestinationRules,
    Verdict,
    normalise_number,
)

UK_PREMIUM = DestinationRules(denied_prefixes=frozenset({"44909", "0909", "1900"}))


@pytest.mark.parametrize(
    ("dialled", "expected"),
    [
        ("+44 909 123 456", ("44909123456", True)),
        ("0044909123456", ("44909123456", True)),
        ("0909123456", ("0909123456", False)),
        ("(212) 555-0100", ("2125550100", False)),
        ("*67", ("*67", False)),
        ("alice", None),
        ("", None),
        ("12a4", None),
    ],
)
def test_normalise_number(dialled, expected):
    assert normalise_number(dialled) == expected


@pytest.mark.parametrize("dialled", ["+44909123456", "0044909123456", "0909123456", "1900555"])
def test_denied_prefix_in_any_form_is_refused_with_403(dialled):
    decision = UK_PREMIUM.judge(dialled)
    assert decision.verdict is Verdict.DENIED_PREFIX
    assert decision.refusal_status == 403
    assert dialled in decision.detail


@pytest.mark.parametrize("dialled", ["+442071234567", "alice", "1234"])
def test_ordinary_destinations_pass(dialled):
    assert UK_PREMIUM.judge(dialled).allowed


def test_allowed_country_codes_only_judge_international_numbers():
    rules = DestinationRules(allowed_country_codes=frozenset({"44", "353"}))
    assert rules.judge("+3531234567").allowed
    assert rules.judge("02071234567").allowed
    refused = rules.judge("+8821234567")
    assert refused.verdict is Verdict.COUNTRY_NOT_ALLOWED


def test_call_rate_window_slides():
    limiter = CallRateLimiter()
    assert all(limiter.try_start("acme", 3, now=t).allowed for t in (0.0, 1.0, 2.0))
    refused = limiter.try_start("acme", 3, now=59.0)
    assert refused.verdict is Verdict.RATE_LIMIT
    assert refused.refusal_status == 503
    assert limiter.try_start("other", 3, now=59.0).allowed
    assert limiter.try_start("acme", 3, now=60.5).allowed


def test_call_rate_zero_means_unlimited_and_idle_keys_are_forgotten():
    limiter = CallRateLimiter()
    assert all(limiter.try_start("acme", 0, now=float(t)).allowed for t in range(100))
    limiter.forget_idle(now=1000.0)
    assert not limiter._starts


def test_concurrent_calls_acquire_and_release():
    calls = ConcurrentCalls()
    assert calls.acquire("alice", 2).allowed
    assert calls.acquire("alice", 2).allowed
    assert calls.acquire("alice", 2).verdict is Verdict.CONCURRENT_LIMIT
    calls.release("alice")
    assert calls.active("alice") == 1
    assert calls.acquire("alice", 2).allowed
    calls.release("alice")
    calls.release("alice")
    calls.release("alice")
    assert calls.active("alice") == 0
