"""Three real SIP workers behind the Kamailio front door, on PostgreSQL and Redis.

``manage.py sipworker`` runs three times on pytest-django's PostgreSQL test database and a
Redis database of the scale-out suite (``TEST_REDIS_URL`` with database 11, flushed), with
Kamailio (``deploy/kamailio/kamailio.cfg``) dispatching to them. Phones (sipcore test phones)
register through the front door and call each other through it. Proven: a call whose caller
lands on one worker reaches a phone registered through another (registrations are shared in
PostgreSQL); a worker killed mid-test is probed out and new calls keep connecting, including
to the phone it had registered; an in-dialogue request that reaches a worker not holding the
call is forwarded to the worker that does (the dialogue-ownership map in Redis); a worker
stopped with SIGTERM fails the probes while it drains, so new calls go elsewhere while its
own call runs to its end.
"""

from __future__ import annotations

import asyncio
import json
import signal

import pytest
import redis
from asgiref.sync import sync_to_async
from django.db import connections

from sipcore.tests.phones import Phone
from sipcore.transport import Peer
from sipplatform.directory.models import Binding
from sipplatform.directory.services import default_domain
from tests.integration.frontdoor import (
    Cluster,
    customer_calling_locally,
    flushed_redis_database,
    phones_through,
    start_cluster,
)

pytestmark = [pytest.mark.real, pytest.mark.django_db(transaction=True)]

REDIS_DATABASE = 11
PASSWORD = "Sesame-Open-42"
USERS = ("alice", "bob", "carol")
WORKERS = 3
DRAIN_GRACE = 300
"""Seconds a stopped worker's calls may go on (``--grace``): far beyond what the drain test
takes on a loaded machine. With the default 30 s a slow run saw the worker end the call and
exit before the test's BYE, which then got 481."""


@pytest.fixture
def redis_url(test_redis_url):
    with flushed_redis_database(test_redis_url, REDIS_DATABASE) as url:
        yield url


@pytest.fixture
def domain() -> str:
    """Three accounts of one customer; each may call any local account."""
    customer_calling_locally(USERS, PASSWORD)
    return default_domain().name


@pytest.fixture
def cluster(spawn, tmp_path, redis_url, postgres_database_url, domain) -> Cluster:
    return start_cluster(
        spawn,
        tmp_path,
        WORKERS,
        postgres_database_url,
        redis_url,
        domain,
        options=("--grace", str(DRAIN_GRACE)),
    )


@pytest.fixture
async def phones(cluster):
    async with phones_through(cluster, USERS, PASSWORD) as started:
        yield started


def registered_on(user: str) -> str:
    """The worker that took ``user``'s registration (recorded with the binding)."""
    try:
        return Binding.objects.get(account__username=user).worker_id
    finally:
        connections.close_all()


async def call_worker(cluster: Cluster, caller: Phone, callee: Phone) -> str:
    """Call ``callee`` through the front door, hang up; the id of the worker that served it.

    The callee's side must see the whole call: the ACK of its answer and the BYE.
    """
    call = await caller.call(f"sip:{callee.user}@{cluster.domain}")
    assert call.final is not None and call.final.status == 200, call.final
    port = call.final.contacts[0].uri.port
    incoming = callee.calls[-1]
    assert (await call.bye()).status == 200
    await asyncio.wait_for(incoming.acked.wait(), 10)
    await asyncio.wait_for(incoming.ended.wait(), 10)
    return cluster.ports[port]


async def test_calls_cross_workers_and_survive_a_killed_worker(cluster, phones):
    for phone in phones.values():
        assert (await phone.register()).status == 200
    bob_worker = await sync_to_async(registered_on)("bob")
    assert bob_worker in cluster.workers

    alice, bob, carol = (phones[user] for user in USERS)
    served = [await call_worker(cluster, alice, bob) for _ in range(9)]
    assert any(worker != bob_worker for worker in served), (
        f"no call landed away from bob's registrar {bob_worker}: {served}"
    )
    assert len(set(served)) >= 2

    victim = cluster.workers[bob_worker]
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    victim_port = next(port for port, worker in cluster.ports.items() if worker == bob_worker)
    await asyncio.to_thread(cluster.door.wait_for_flags, victim_port, "IP", 5.0)

    after = [await call_worker(cluster, alice, bob) for _ in range(4)]
    after += [await call_worker(cluster, carol, alice) for _ in range(4)]
    assert bob_worker not in after


async def test_a_request_reaching_the_wrong_worker_is_forwarded_to_the_calls_owner(
    cluster, phones, redis_url
):
    alice, bob = phones["alice"], phones["bob"]
    for phone in (alice, bob):
        assert (await phone.register()).status == 200
    call = await alice.call(f"sip:bob@{cluster.domain}")
    assert call.final is not None and call.final.status == 200
    holder = cluster.ports[call.final.contacts[0].uri.port]
    key = f"sipplatform:cluster:dialogue:{call.invite.call_id}"
    with redis.Redis.from_url(redis_url) as client:
        owner = client.get(key)
    assert owner is not None and json.loads(owner)["id"] == holder

    elsewhere = next(port for port, worker in cluster.ports.items() if worker != holder)
    bye = call.dialog.create_request("BYE")
    response = await alice.endpoint.send_request(bye, Peer("udp", "127.0.0.1", elsewhere))
    assert response.status == 200
    await asyncio.wait_for(bob.calls[-1].ended.wait(), 10)
    await gone_from_the_map(redis_url, key)


async def gone_from_the_map(redis_url: str, key: str) -> None:
    """Wait until the call's entry has left the ownership map (the call is over)."""
    with redis.Redis.from_url(redis_url) as client:
        async with asyncio.timeout(10):
            while client.get(key) is not None:
                await asyncio.sleep(0.05)


async def test_a_stopped_worker_is_taken_out_while_its_call_drains(cluster, phones):
    alice, bob, carol = (phones[user] for user in USERS)
    for phone in (alice, bob, carol):
        assert (await phone.register()).status == 200
    call = await alice.call(f"sip:bob@{cluster.domain}")
    assert call.final is not None and call.final.status == 200
    port = call.final.contacts[0].uri.port
    holder = cluster.ports[port]

    cluster.workers[holder].send_signal(signal.SIGTERM)
    await asyncio.to_thread(cluster.door.wait_for_flags, port, "IP", 5.0)
    assert cluster.workers[holder].poll() is None, "the worker left before its call ended"
    after = [await call_worker(cluster, carol, bob) for _ in range(4)]
    assert holder not in after

    assert not call.ended.is_set(), "the draining worker hung the call up"
    assert cluster.workers[holder].poll() is None, "the worker left before its call ended"
    assert (await call.bye()).status == 200
    assert await asyncio.to_thread(cluster.workers[holder].wait, 30) == 0
