"""Shared cluster state in real Redis: leases, dialogue ownership, presence, provider leases.

Each test starts and ends with an empty database (``cluster_support``). Workers are several
objects on one client, as several processes would be on several clients.
"""

import asyncio

import pytest

from sipcore.cluster import (
    ClusterError,
    DialogueOwnership,
    ProviderLeases,
    RedisLeases,
    WorkerInfo,
    WorkerPresence,
)
from sipcore.tests.cluster_support import flushed_redis

pytestmark = pytest.mark.real

ONE = WorkerInfo(worker_id="sip-1", transport="udp", host="127.0.0.1", port=20101)
TWO = WorkerInfo(worker_id="sip-2", transport="udp", host="127.0.0.1", port=20102)


@pytest.fixture
async def redis():
    async with flushed_redis() as client:
        yield client


async def test_a_lease_is_taken_once_extended_and_released_only_by_its_holder(redis):
    leases = RedisLeases(redis, prefix="t")
    assert await leases.acquire("p", "a", ttl=5)
    assert not await leases.acquire("p", "b", ttl=5)
    assert not await leases.extend("p", "b", ttl=5)
    assert not await leases.release("p", "b")
    assert await leases.holder("p") == "a"
    assert await leases.extend("p", "a", ttl=60)
    assert 59_000 < await redis.pttl("t:p") <= 60_000
    assert await leases.release("p", "a")
    assert await leases.holder("p") is None
    assert await leases.acquire("p", "b", ttl=5)


async def test_an_expired_lease_cannot_be_extended_by_its_former_holder(redis):
    leases = RedisLeases(redis, prefix="t")
    assert await leases.acquire("p", "a", ttl=0.05)
    await asyncio.sleep(0.1)
    assert await leases.acquire("p", "b", ttl=5)
    assert not await leases.extend("p", "a", ttl=5)
    assert await leases.holder("p") == "b"


async def test_a_lease_needs_a_positive_time_to_live(redis):
    with pytest.raises(ValueError, match="positive"):
        await RedisLeases(redis, prefix="t").acquire("p", "a", ttl=0)


async def test_every_worker_finds_the_owner_of_a_dialogue_until_hangup(redis):
    one, two = DialogueOwnership(redis, ONE), DialogueOwnership(redis, TWO)
    assert await one.claim("call-a@host") == ONE
    assert one.held == {"call-a@host"}
    assert await two.owner("call-a@host") == ONE
    assert await two.claim("call-a@host") == ONE  # taken: the other worker gets the owner
    assert two.held == frozenset()
    await one.release("call-a@host")
    assert await two.owner("call-a@host") is None


async def test_a_live_call_is_refreshed_and_a_dead_workers_calls_expire(redis):
    one = DialogueOwnership(redis, ONE, ttl=0.3)
    dead = DialogueOwnership(redis, TWO, ttl=0.3)
    await one.claim("kept")
    await dead.claim("orphan")
    for _ in range(3):
        await asyncio.sleep(0.15)
        assert await one.refresh() == []
    assert await one.owner("kept") == ONE
    assert await one.owner("orphan") is None


async def test_a_lost_dialogue_is_reported_by_the_refresh(redis):
    one = DialogueOwnership(redis, ONE, ttl=0.05)
    await one.claim("slow")
    await asyncio.sleep(0.1)
    await DialogueOwnership(redis, TWO).claim("slow")
    assert await one.refresh() == ["slow"]
    assert one.held == frozenset()


async def test_a_corrupt_ownership_entry_is_a_cluster_error(redis):
    await redis.set("sipplatform:cluster:dialogue:bad", b"{not json")
    with pytest.raises(ClusterError, match="not a worker record"):
        await DialogueOwnership(redis, ONE).owner("bad")


async def test_presence_lists_live_workers_and_prunes_dead_ones(redis):
    one = WorkerPresence(redis, ONE, ttl=5)
    two = WorkerPresence(redis, TWO, ttl=0.05)
    await one.beat()
    await two.beat()
    assert await one.alive() == [ONE, TWO]
    await asyncio.sleep(0.1)
    assert await one.alive() == [ONE]
    assert await redis.smembers("sipplatform:cluster:workers") == {b"sip-1"}
    await one.leave()
    assert await two.alive() == []


async def test_exactly_one_worker_holds_each_provider(redis):
    one = ProviderLeases(redis, "sip-1", renew_interval=1, ttl=3)
    two = ProviderLeases(redis, "sip-2", renew_interval=1, ttl=3)
    assert await one.maintain([7, 8]) == {7, 8}
    assert await two.maintain([7, 8, 9]) == {9}
    assert await one.maintain([7, 8, 9]) == {7, 8}  # kept, and 9 is not taken from two
    assert await one.holder(9) == "sip-2"
    assert await one.maintain([7]) == {7}  # provider 8 no longer wanted: released
    assert await two.maintain([7, 8, 9]) == {8, 9}


async def test_a_dead_holders_providers_move_within_the_failover_bound(redis):
    one = ProviderLeases(redis, "sip-1", renew_interval=0.1, ttl=0.3)
    two = ProviderLeases(redis, "sip-2", renew_interval=0.1, ttl=0.3)
    assert await one.maintain([1, 2]) == {1, 2}
    died = asyncio.get_running_loop().time()
    while not await two.maintain([1, 2]):  # one stops renewing: SIGKILL
        await asyncio.sleep(two.renew_interval)
    assert await two.maintain([1, 2]) == {1, 2}
    assert asyncio.get_running_loop().time() - died <= two.failover_bound + 0.1
    assert await one.maintain([1, 2]) == frozenset()  # the old holder learns it lost them


async def test_a_stopping_worker_hands_its_providers_over_at_once(redis):
    one = ProviderLeases(redis, "sip-1", renew_interval=10, ttl=30)
    two = ProviderLeases(redis, "sip-2", renew_interval=10, ttl=30)
    await one.maintain([1])
    await one.release_all()
    assert await two.maintain([1]) == {1}


def test_a_lease_must_outlive_its_renewal():
    with pytest.raises(ValueError, match="outlive"):
        ProviderLeases(None, "sip-1", renew_interval=10, ttl=10)  # type: ignore[arg-type]
