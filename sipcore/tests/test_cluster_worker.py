"""Two SipWorkers sharing the dialogue-ownership map in real Redis (database 11).

Each worker runs in this process on its own loopback port with the cluster wired in. A call
held by worker one is in the map while it lives and gone after; a BYE that reaches worker two
is forwarded to worker one and ends the call there; a draining worker answers the front
door's OPTIONS probes with 503, so the dispatcher takes it out.
"""

import asyncio

import pytest

from sipcore.cluster import ClusterConfig
from sipcore.tests.cluster_support import (
    cluster_redis_url,
    flushed_redis,
    owner_becomes,
    sip_request,
)
from sipcore.tests.phones import DOMAIN, running_world

pytestmark = pytest.mark.real

SECRET = b"cluster-test-secret-0123456789"


@pytest.fixture
async def redis():
    async with flushed_redis() as client:
        yield client


@pytest.fixture
def cluster() -> ClusterConfig:
    return ClusterConfig(
        redis_url=cluster_redis_url(), forwarding_secret=SECRET, refresh_interval=0.2
    )


async def test_a_bye_reaching_the_other_worker_ends_the_call(redis, cluster):
    async with (
        running_world(worker_id="sip-1", cluster=cluster) as one,
        running_world(worker_id="sip-2", cluster=cluster) as two,
    ):
        one.add_account("alice")
        one.add_account("bob")
        bob = await one.phone("bob")
        alice = await one.phone("alice")
        call = await alice.call(f"sip:bob@{DOMAIN}")
        assert call.final.status == 200
        incoming = await bob.incoming.get()
        await owner_becomes(redis, call.invite.call_id, "sip-1")
        await owner_becomes(redis, incoming.invite.call_id, "sip-1")

        bye = call.dialog.create_request("BYE")
        response = await alice.endpoint.send_request(bye, two.addresses["udp"])
        assert response.status == 200
        await asyncio.wait_for(incoming.ended.wait(), 5)
        await one.settle(lambda: one.worker.active_calls == 0)
        await owner_becomes(redis, call.invite.call_id, None)
        await owner_becomes(redis, incoming.invite.call_id, None)
        assert two.worker.active_calls == 0


async def test_a_draining_worker_fails_the_front_doors_probe(redis, cluster):
    async with running_world(worker_id="sip-1", cluster=cluster) as one:
        alice = await one.phone("alice", register=False)
        probe = sip_request("OPTIONS", "probe@127.0.0.1")
        assert (await alice.endpoint.send_request(probe, one.addresses["udp"])).status == 200
        await one.worker.drain(0)
        probe = sip_request("OPTIONS", "probe-2@127.0.0.1")
        assert (await alice.endpoint.send_request(probe, one.addresses["udp"])).status == 503
