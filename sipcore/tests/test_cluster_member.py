"""A worker's cluster membership in real Redis: dialogues held and dropped, refreshes, leaving.

``ClusterMember`` claims and releases Call-IDs from one background task in the order the
B2BUA reported them, keeps its entries and presence alive while it runs, removes them when
it leaves, and carries on (logging) when Redis is unreachable.
"""

import asyncio

import pytest

from sipcore.cluster import ClusterConfig, ClusterMember, DialogueOwnership, WorkerInfo
from sipcore.cluster.leases import DEFAULT_PREFIX
from sipcore.endpoint import Endpoint
from sipcore.tests.cluster_support import cluster_redis_url, flushed_redis

pytestmark = pytest.mark.real

ME = WorkerInfo(worker_id="sip-1", transport="udp", host="127.0.0.1", port=20201)
OTHER = WorkerInfo(worker_id="sip-2", transport="udp", host="127.0.0.1", port=20202)
SECRET = b"cluster-test-secret-0123456789"
INTERVAL = 0.1


@pytest.fixture
async def redis():
    async with flushed_redis() as client:
        yield client


@pytest.fixture
async def member(redis):
    endpoint = Endpoint()
    config = ClusterConfig(
        redis_url=cluster_redis_url(), forwarding_secret=SECRET, refresh_interval=INTERVAL
    )
    member = ClusterMember.connect(config, me=ME, endpoint=endpoint)
    await member.join()
    yield member
    await member.leave()
    await endpoint.close()


async def owner_soon(redis, call_id: str, wanted: WorkerInfo | None) -> None:
    view = DialogueOwnership(redis, OTHER)
    async with asyncio.timeout(2):
        while await view.owner(call_id) != wanted:
            await asyncio.sleep(0.02)


async def test_held_dialogues_are_claimed_and_released_after_the_last_one(member, redis):
    member.hold("call-a")
    member.hold("call-a")  # a second fork of the same Call-ID
    assert member.holds("call-a")
    await owner_soon(redis, "call-a", ME)
    member.drop("call-a")
    await asyncio.sleep(3 * INTERVAL)
    assert await DialogueOwnership(redis, OTHER).owner("call-a") == ME
    member.drop("call-a")
    assert not member.holds("call-a")
    await owner_soon(redis, "call-a", None)


async def test_a_release_never_overtakes_its_claim(member, redis):
    for number in range(50):
        member.hold(f"short-{number}")
        member.drop(f"short-{number}")
    member.hold("marker")
    await owner_soon(redis, "marker", ME)
    keys = await redis.keys("sipplatform:cluster:dialogue:*")
    assert keys == [b"sipplatform:cluster:dialogue:marker"]


async def test_entries_and_presence_outlive_their_ttl_while_refreshed(member, redis):
    member.hold("long-call")
    await asyncio.sleep(6 * INTERVAL)  # twice the entries' lifetime
    assert await DialogueOwnership(redis, OTHER).owner("long-call") == ME
    assert await member.presence.alive() == [ME]


async def test_leaving_removes_the_worker_and_its_dialogues(redis):
    endpoint = Endpoint()
    member = ClusterMember(client=redis, me=ME, endpoint=endpoint, secret=SECRET)
    await member.join()
    member.hold("call-b")
    await owner_soon(redis, "call-b", ME)
    await member.leave()
    await endpoint.close()
    assert await redis.keys(f"{DEFAULT_PREFIX}:*") == []


async def test_an_unreachable_redis_is_logged_never_raised(caplog):
    endpoint = Endpoint()
    config = ClusterConfig(
        redis_url="redis://127.0.0.1:1/0", forwarding_secret=SECRET, refresh_interval=INTERVAL
    )
    member = ClusterMember.connect(config, me=ME, endpoint=endpoint)
    await member.join()
    member.hold("call-c")
    await asyncio.sleep(2 * INTERVAL)
    member.drop("call-c")
    await member.leave()
    await endpoint.close()
    assert "cluster" in caplog.text


async def test_the_member_names_this_worker_and_leases_its_providers(member):
    config = ClusterConfig(
        redis_url="redis://unused", forwarding_secret=SECRET, advertise_host="10.1.2.3"
    )
    assert config.worker_info("sip-7", ("tcp", "0.0.0.0", 5060)) == WorkerInfo(
        worker_id="sip-7", transport="tcp", host="10.1.2.3", port=5060
    )
    assert config.worker_info("sip-8", ("udp", "127.0.0.1", 5070)).host == "127.0.0.1"
    leases = member.provider_leases(renew_interval=1)
    assert (leases.renew_interval, leases.ttl) == (1, 3)
    assert await leases.maintain([4]) == {4}
    assert await leases.holder(4) == ME.worker_id
