"""Signed nonces and the bounded in-memory nonce-count store."""

import pytest

from sipcore.auth import MemoryNonceCounterStore, NonceSigner

SECRET = b"shared-worker-secret-0123456789"


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_nonce_carries_its_issue_time_and_is_url_safe() -> None:
    signer = NonceSigner(SECRET)
    nonce = signer.mint("example.com", now=1_800_000_000.25)
    assert len(nonce) == 64 and nonce.replace("-", "").replace("_", "").isalnum()
    verified = signer.verify(nonce, "example.com")
    assert verified is not None and verified.issued_at == 1_800_000_000.25


def test_nonce_verifies_only_for_its_realm_and_secret() -> None:
    nonce = NonceSigner(SECRET).mint("example.com", now=1.0)
    assert NonceSigner(SECRET).verify(nonce, "example.org") is None
    assert NonceSigner(b"a-different-secret-0123456789").verify(nonce, "example.com") is None


def test_every_altered_character_is_detected() -> None:
    signer = NonceSigner(SECRET)
    nonce = signer.mint("r", now=1.0)
    for index in range(len(nonce)):
        replacement = "A" if nonce[index] != "A" else "B"
        altered = nonce[:index] + replacement + nonce[index + 1 :]
        assert signer.verify(altered, "r") is None


def test_short_secret_refused() -> None:
    with pytest.raises(ValueError):
        NonceSigner(b"too-short")


def store(clock: FakeClock, **kwargs) -> MemoryNonceCounterStore:
    return MemoryNonceCounterStore(**{"lifetime": 300.0, "clock": clock, **kwargs})


async def test_each_nc_is_accepted_once_in_any_order() -> None:
    counters = store(FakeClock())
    assert [await counters.check_and_record("n", nc) for nc in (2, 1, 3, 2, 1)] == [
        True,
        True,
        True,
        False,
        False,
    ]
    assert await counters.check_and_record("other", 1)


async def test_entries_expire_after_the_lifetime() -> None:
    clock = FakeClock()
    counters = store(clock)
    await counters.check_and_record("n", 1)
    clock.now = 299.0
    assert not await counters.check_and_record("n", 1)
    clock.now = 300.0
    assert len(counters) == 1
    assert await counters.check_and_record("m", 1)
    assert len(counters) == 1


async def test_size_is_bounded_by_dropping_the_oldest() -> None:
    counters = store(FakeClock(), max_nonces=3)
    for nonce in "abcd":
        await counters.check_and_record(nonce, 1)
    assert len(counters) == 3
    assert await counters.check_and_record("a", 1)
    assert not await counters.check_and_record("d", 1)


async def test_a_nonce_used_too_often_is_refused() -> None:
    counters = store(FakeClock(), max_uses=2)
    assert await counters.check_and_record("n", 1)
    assert await counters.check_and_record("n", 2)
    assert not await counters.check_and_record("n", 3)
