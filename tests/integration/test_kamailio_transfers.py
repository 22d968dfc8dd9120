"""Transfers across three real SIP workers behind the Kamailio front door.

``manage.py sipworker`` runs three times on pytest-django's PostgreSQL test database and a
Redis database of its own (``TEST_REDIS_URL`` with database 4, flushed), with Kamailio
(``deploy/kamailio/kamailio.cfg``) dispatching to them by Call-ID. Phones (sipcore test
phones) register and call through the front door. Proven: an attended transfer whose two
calls the front door placed on two different workers completes (transferee and target hold
each other's session descriptions and go on talking; the transferor saw NOTIFY 100 then
200 and both its dialogues ended); a ``tr=c`` blind transfer whose call and target call sit
on workers other than the ones the parties registered through completes too.
"""

from __future__ import annotations

import asyncio
from urllib.parse import quote

import pytest
from asgiref.sync import sync_to_async

from sipcore.tests.phones import Phone, PhoneCall, sdp
from sipcore.transfer.subscription import parse_sipfrag
from sipplatform.dialplans.models import Dialplan
from sipplatform.directory.services import default_domain
from tests.integration import frontdoor
from tests.integration.frontdoor import (
    Cluster,
    customer_calling_locally,
    flushed_redis_database,
    phones_through,
    start_cluster,
)
from tests.integration.test_kamailio_workers import registered_on

pytestmark = [pytest.mark.real, pytest.mark.django_db(transaction=True)]

REDIS_DATABASE = 4
PASSWORD = "Sesame-Open-42"
USERS = ("alice", "bob", "carol")
WORKERS = 3
PORTS = range(28000, 29000)
"""This suite's ports (the scale-out suite's helpers take theirs from ``PORT_RANGE``)."""


@pytest.fixture
def redis_url(test_redis_url):
    with flushed_redis_database(test_redis_url, REDIS_DATABASE) as url:
        yield url


@pytest.fixture
def domain() -> str:
    """Three accounts of one customer that processes transfers on the server (``tr=c``)
    and rings the Refer-To user's phones from its ``transfer`` dialplan."""
    acme = customer_calling_locally(USERS, PASSWORD, transfer_default="c")
    Dialplan.objects.create(customer=acme, name="transfer", script='sys.Dial("${dst}@local")')
    return default_domain().name


@pytest.fixture
def cluster(spawn, tmp_path, redis_url, postgres_database_url, domain, monkeypatch) -> Cluster:
    monkeypatch.setattr(frontdoor, "PORT_RANGE", PORTS)
    return start_cluster(spawn, tmp_path, WORKERS, postgres_database_url, redis_url, domain)


@pytest.fixture
async def phones(cluster):
    async with phones_through(cluster, USERS, PASSWORD) as started:
        for phone in started.values():
            assert (await phone.register()).status == 200
        yield started


def served_by(cluster: Cluster, call: PhoneCall) -> str:
    """The worker holding ``call``: the one whose address its answer's Contact names."""
    assert call.final is not None
    return cluster.ports[call.final.contacts[0].uri.port]


async def talking(caller: Phone, callee: Phone, domain: str, offer: bytes):
    call = await caller.call(f"sip:{callee.user}@{domain}", body=offer)
    assert call.final is not None and call.final.status == 200, call.final
    incoming = await asyncio.wait_for(callee.incoming.get(), 10)
    await asyncio.wait_for(incoming.acked.wait(), 10)
    return call, incoming


async def on_another_worker(cluster: Cluster, caller: Phone, callee: Phone, than: str):
    """A call the front door placed on a worker other than ``than`` (a new Call-ID is hashed
    anew for each attempt)."""
    for attempt in range(20):
        call, incoming = await talking(caller, callee, cluster.domain, sdp(f"consult-{attempt}"))
        if served_by(cluster, call) != than:
            return call, incoming
        assert (await call.bye()).status == 200
        await asyncio.wait_for(incoming.ended.wait(), 10)
    raise AssertionError(f"every call landed on {than}")


def notified(call: PhoneCall) -> list[int]:
    return [parse_sipfrag(r.body)[0] for r in call.requests if r.method == "NOTIFY"]


def talk(x: PhoneCall, y: PhoneCall) -> bool:
    return bool(x.remote_sdp) and x.remote_sdp == y.local_sdp and y.remote_sdp == x.local_sdp


async def reinvite_reaches(caller: PhoneCall, callee: PhoneCall, body: bytes) -> None:
    response = await caller.reinvite(body)
    assert response.status == 200 and response.body == callee.phone.answer_body
    assert [r.body for r in callee.requests if r.method == "INVITE"][-1] == body


async def test_an_attended_transfer_whose_calls_sit_on_two_workers_completes(cluster, phones):
    alice, bob, carol = (phones[user] for user in USERS)
    first, at_bob = await talking(alice, bob, cluster.domain, sdp("alice-bob"))
    consult, at_carol = await on_another_worker(cluster, alice, carol, served_by(cluster, first))
    dialog = consult.dialog
    assert dialog is not None
    replaces = f"{dialog.id.call_id};to-tag={dialog.id.remote_tag};from-tag={dialog.id.local_tag}"
    refer_to = f"<sip:carol@{cluster.domain}?Replaces={quote(replaces, safe='')}>"

    response = await first.request(
        "REFER", headers=[("Refer-To", refer_to), ("Referred-By", f"<sip:alice@{cluster.domain}>")]
    )

    assert response.status == 202
    await asyncio.wait_for(first.ended.wait(), 15)
    await asyncio.wait_for(consult.ended.wait(), 15)
    assert notified(first) == [100, 200]
    assert talk(at_bob, at_carol)
    assert at_bob.remote_sdp == carol.answer_body and at_carol.remote_sdp == bob.answer_body
    assert not at_bob.ended.is_set() and not at_carol.ended.is_set()
    await reinvite_reaches(at_bob, at_carol, sdp("bob-hold"))
    await reinvite_reaches(at_carol, at_bob, sdp("carol-hold"))
    assert (await at_carol.bye()).status == 200
    await asyncio.wait_for(at_bob.ended.wait(), 15)


async def test_a_blind_transfer_completes_whichever_workers_the_parties_use(cluster, phones):
    alice, bob, carol = (phones[user] for user in USERS)
    carol_registrar = await sync_to_async(registered_on)("carol")
    first, at_bob = await on_another_worker(cluster, alice, bob, carol_registrar)

    response = await first.request(
        "REFER",
        headers=[
            ("Refer-To", f"<sip:carol@{cluster.domain}>"),
            ("Referred-By", f"<sip:alice@{cluster.domain}>"),
        ],
    )

    assert response.status == 202
    placed = await asyncio.wait_for(carol.incoming.get(), 15)
    await asyncio.wait_for(first.ended.wait(), 15)
    assert notified(first)[0] == 100 and notified(first)[-1] == 200
    assert placed.invite.body == b""
    await asyncio.wait_for(placed.acked.wait(), 10)
    assert talk(at_bob, placed)
    await reinvite_reaches(placed, at_bob, sdp("carol-2"))
    assert (await at_bob.bye()).status == 200
    await asyncio.wait_for(placed.ended.wait(), 15)
