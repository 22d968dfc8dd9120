"""The Redis stores against the real Redis (database 13, flushed around each test): the same
behaviour as the memory store, atomic shared counters, and two workers' gates on one Redis
seeing each other's failures and bans; the nonce store refuses replays across workers."""

from __future__ import annotations

import asyncio

import pytest

from sipcore.auth import Accepted, DigestClient, DigestServer, Rejected, RejectReason, ha1
from sipcore.events import MemoryEventSink
from sipcore.message import Request
from sipcore.security import (
    Ban,
    BanPolicy,
    BanReason,
    DropReason,
    SecurityGate,
    SecurityService,
    Subject,
)
from sipcore.security.redis_store import RedisCounterStore, RedisNonceCounterStore
from sipcore.testing.redis import flushed_redis, redis_url_for
from sipcore.tests.test_security_store import (
    check_bans_round_trip_and_lift,
    check_fixed_window_counting,
)

pytestmark = pytest.mark.real

ATTACKER = "203.0.113.9"
PREFIX = "test:security"


def redis_url() -> str:
    """The test Redis, always on database 13."""
    return redis_url_for(13)


@pytest.fixture
def url():
    with flushed_redis(redis_url()) as url:
        yield url


@pytest.fixture
async def store(url):
    store = RedisCounterStore.from_url(url, prefix=PREFIX)
    yield store
    await store.close()


async def test_failures_count_in_fixed_windows_held_by_redis(store):
    await check_fixed_window_counting(store)
    ttl = await store.client.pttl(f"{PREFIX}:fail:{Subject.source(ATTACKER).key}")
    assert 0 < ttl <= 60_000


async def test_counting_is_atomic_under_concurrent_workers(store, url):
    others = [RedisCounterStore.from_url(url, prefix=PREFIX) for _ in range(3)]
    subject = Subject.source(ATTACKER)
    try:
        counts = await asyncio.gather(
            *(
                s.count_failure(subject, window=60, now=0)
                for s in (store, *others)
                for _ in range(25)
            )
        )
    finally:
        for other in others:
            await other.close()
    assert sorted(counts) == list(range(1, 101))


async def test_offence_memory_is_renewed_by_each_offence(store):
    subject = Subject.source(ATTACKER)
    assert await store.count_offence(subject, memory=30, now=0) == 1
    await store.client.pexpire(f"{PREFIX}:offence:{subject.key}", 5)
    assert await store.count_offence(subject, memory=30, now=0) == 2
    assert await store.client.pttl(f"{PREFIX}:offence:{subject.key}") > 29_000


async def test_bans_round_trip_lift_and_end_in_redis(store):
    await check_bans_round_trip_and_lift(store)
    assert await store.active_bans(now=1600.0) == []
    assert await store.client.zcard(f"{PREFIX}:bans") == 0  # ended bans are cleaned away
    assert await store.client.hlen(f"{PREFIX}:ban-data") == 0


async def test_many_bans_are_listed_beyond_luas_unpack_limit(store):
    for i in range(9000):
        subject = Subject.source(f"10.{i // 65536}.{i // 256 % 256}.{i % 256}")
        ban = Ban(subject=subject, since=0, until=1000 + i, offence=1, reason=BanReason.SCANNER)
        await store.client.zadd(f"{PREFIX}:bans", {subject.key: ban.until})
        await store.client.hset(f"{PREFIX}:ban-data", subject.key, ban.to_json())
    assert len(await store.active_bans(now=1.0, limit=9000)) == 9000
    assert await store.active_bans(now=9999.0) == []


async def test_an_unreadable_stored_ban_is_skipped_not_fatal(store):
    await store.client.zadd(f"{PREFIX}:bans", {"source:192.0.2.1": 500})
    await store.client.hset(f"{PREFIX}:ban-data", "source:192.0.2.1", b"\xff not json")
    ban = Ban(
        subject=Subject.source(ATTACKER), since=0, until=400, offence=1, reason=BanReason.MANUAL
    )
    await store.save_ban(ban, now=0)
    assert await store.active_bans(now=1) == [ban]


def service_on(store: RedisCounterStore, worker_id: str, policy: BanPolicy) -> SecurityService:
    return SecurityService(
        gate=SecurityGate(),
        store=store,
        policy=policy,
        events=MemoryEventSink(),
        spawn=lambda _: None,
        worker_id=worker_id,
    )


async def test_two_gates_sharing_one_redis_add_up_failures_and_see_the_same_ban(url):
    """The multi-worker case: guesses spread over two workers still reach the threshold, and
    the ban one worker makes is enforced by the other and lifted for both."""
    policy = BanPolicy(max_source_failures=4, failure_window=60, first_ban=30)
    stores = [RedisCounterStore.from_url(url, prefix=PREFIX) for _ in range(2)]
    one, two = (service_on(s, f"w{i}", policy) for i, s in enumerate(stores, 1))
    options = Request("OPTIONS", "sip:example.com", [("Call-ID", "c"), ("CSeq", "1 OPTIONS")])
    try:
        assert await one.auth_failed(ATTACKER, None, 100.0) == []
        assert await two.auth_failed(ATTACKER, None, 101.0) == []
        assert await one.auth_failed(ATTACKER, None, 102.0) == []
        [ban] = await two.auth_failed(ATTACKER, None, 103.0)
        assert ban.until == 133.0
        assert two.screen(options, ATTACKER, 104.0) is False
        assert one.screen(options, ATTACKER, 104.0) is True  # has not heard yet
        await one.refresh(105.0)
        assert one.screen(options, ATTACKER, 105.0) is False
        assert one.gate.stats.dropped[DropReason.BANNED] == 1
        await one.lift(Subject.source(ATTACKER), now=106.0, by="staff")
        await two.refresh(107.0)
        assert two.screen(options, ATTACKER, 107.0) is True
    finally:
        for store in stores:
            await store.close()


async def test_a_ban_made_on_one_worker_is_released_on_every_worker_at_its_end(url):
    policy = BanPolicy(max_source_failures=1, first_ban=10)
    stores = [RedisCounterStore.from_url(url, prefix=PREFIX) for _ in range(2)]
    one, two = (service_on(s, f"w{i}", policy) for i, s in enumerate(stores, 1))
    try:
        await one.auth_failed(ATTACKER, None, 0.0)
        await two.refresh(1.0)
        assert two.gate.is_banned(Subject.source(ATTACKER), 9.9)
        await one.refresh(10.0)
        await two.refresh(10.0)
        assert not two.gate.is_banned(Subject.source(ATTACKER), 10.0)
        assert [e.kind for e in one.events.events] == ["security.banned", "security.unbanned"]
        assert two.events.events == []  # announced once, by the worker that made it
    finally:
        for store in stores:
            await store.close()


async def test_the_nonce_store_refuses_a_replay_seen_by_another_worker(url):
    stores = [RedisNonceCounterStore.from_url(url, lifetime=305, prefix=PREFIX) for _ in range(2)]
    first, second = stores
    try:
        assert await first.check_and_record("nonce-a", 1) is True
        assert await second.check_and_record("nonce-a", 1) is False
        assert await second.check_and_record("nonce-a", 2) is True
        assert await first.check_and_record("nonce-b", 1) is True
        assert 0 < await first.client.execute("PTTL", f"{PREFIX}:nonce-a") <= 305_000
    finally:
        for store in stores:
            await store.close()


async def test_the_nonce_store_caps_the_uses_of_one_nonce(url):
    store = RedisNonceCounterStore.from_url(url, lifetime=60, prefix=PREFIX, max_uses=3)
    try:
        assert [await store.check_and_record("n", nc) for nc in range(1, 5)] == [True] * 3 + [False]
    finally:
        await store.close()


async def test_digest_replay_to_another_worker_is_refused_through_redis(url):
    """Two workers' DigestServers on one Redis: a request accepted by one and replayed,
    byte for byte, to the other is refused as a replay."""
    secret, realm, uri, now = b"shared-worker-secret-0123456789", "example.com", "sip:x", 1e9
    stores = [RedisNonceCounterStore.from_url(url, lifetime=305, prefix=PREFIX) for _ in range(2)]
    one, two = (DigestServer(secret=secret, counter_store=store) for store in stores)

    def lookup(username: str, realm_: str, algorithm: str) -> str:
        return ha1(username, realm_, "wonderland", algorithm)

    client = DigestClient(username="alice", password="wonderland")
    authorization = client.authorize(one.challenge(realm, now=now), method="REGISTER", uri=uri)
    arguments = {"method": "REGISTER", "uri": uri, "realm": realm, "lookup": lookup}
    try:
        assert isinstance(await one.verify([authorization], now=now + 1, **arguments), Accepted)
        replay = await two.verify([authorization], now=now + 2, **arguments)
        assert isinstance(replay, Rejected) and replay.reason is RejectReason.NC_REPLAY
    finally:
        for store in stores:
            await store.close()


async def test_an_unreachable_redis_leaves_replay_protection_to_the_worker_not_a_refusal():
    """Refusing every nonce while Redis is away would stop every registration and call."""
    store = RedisNonceCounterStore.from_url("redis://127.0.0.1:1/0", lifetime=60, timeout=0.2)
    try:
        assert await store.check_and_record("n", 1) is True
        assert await store.check_and_record("n", 1) is False, "a replay is still refused"
        assert await store.check_and_record("n", 2) is True
    finally:
        await store.close()
