"""Inter-worker routing over real UDP on 127.0.0.1 with the ownership map in real Redis.

Two workers' endpoints, each behind a ``ClusterRouter``: worker two holds a call; requests for
it that reach worker one (an INVITE with Replaces naming it, a BYE, an ACK) are proxied to
worker two with a verified stamp naming worker one and the original sender, and the answers
come back to the sender. New calls are served where they land; forged stamps get 403; a
forwarded request is never forwarded again (482).
"""

import asyncio
import time
from dataclasses import dataclass, field

import pytest

from sipcore.cluster import (
    FORWARDED_HEADER,
    ClusterRouter,
    DialogueOwnership,
    ForwardSigner,
    WorkerInfo,
)
from sipcore.endpoint import Endpoint, ServerTransactionHandle
from sipcore.message import Request, new_tag
from sipcore.tests.cluster_support import flushed_redis, sip_request
from sipcore.tests.phones import FAST_TIMERS
from sipcore.transport import Peer

pytestmark = pytest.mark.real

SECRET = b"cluster-test-secret-0123456789"
HELD_CALL = "consult-1@127.0.0.1"


@dataclass
class Worker:
    info: WorkerInfo
    endpoint: Endpoint
    router: ClusterRouter
    served: list[Request] = field(default_factory=list)

    async def on_request(self, request: Request, handle: ServerTransactionHandle | None) -> None:
        if await self.router.route(request, handle):
            return
        self.served.append(request)
        if handle is None:
            return
        if request.method == "CANCEL":
            invite = self.endpoint.invite_for_cancel(request)
            handle.reply(200 if invite else 481)
            if invite is not None:
                invite.reply(487, to_tag=new_tag())
        elif request.method == "INVITE" and "X-Ring" in request.headers:
            handle.reply(180, to_tag=new_tag())
        else:
            handle.reply(200 if request.method != "INVITE" else 486, to_tag=new_tag())


async def start_worker(redis, worker_id: str) -> Worker:
    endpoint = Endpoint(FAST_TIMERS)
    local = await endpoint.listen("udp", "127.0.0.1", 0)
    info = WorkerInfo(worker_id=worker_id, transport="udp", host=local.host, port=local.port)
    ownership = DialogueOwnership(redis, info)
    router = ClusterRouter(endpoint=endpoint, ownership=ownership, signer=ForwardSigner(SECRET))
    worker = Worker(info, endpoint, router)
    endpoint.on_request = worker.on_request
    return worker


@pytest.fixture
async def cluster():
    async with flushed_redis() as redis:
        one = await start_worker(redis, "sip-1")
        two = await start_worker(redis, "sip-2")
        phone = Endpoint(FAST_TIMERS)
        phone_address = await phone.listen("udp", "127.0.0.1", 0)
        await two.router.ownership.claim(HELD_CALL)
        try:
            yield one, two, phone, phone_address
        finally:
            for endpoint in (phone, one.endpoint, two.endpoint):
                await endpoint.close()


def peer(worker: Worker) -> Peer:
    return Peer("udp", worker.info.host, worker.info.port)


async def test_an_invite_replacing_another_workers_dialogue_is_served_by_that_worker(cluster):
    one, two, phone, phone_address = cluster
    replaces = f"{HELD_CALL};to-tag=aa;from-tag=bb"
    invite = sip_request("INVITE", "transfer-1@127.0.0.1", Replaces=replaces)
    response = await phone.send_request(invite, peer(one))

    assert response.status == 486  # worker two's answer, relayed by worker one
    assert [r.method for r in two.served] == ["INVITE"] and one.served == []
    forwarded = two.served[0]
    stamp = ForwardSigner(SECRET).verify(forwarded, now=time.time())
    assert stamp is not None and stamp.worker_id == "sip-1"
    assert stamp.source == f"udp:127.0.0.1:{phone_address.port}"
    assert forwarded.max_forwards == 69
    assert [via.port for via in forwarded.vias] == [one.info.port, phone_address.port]
    assert [via.port for via in response.vias] == [phone_address.port]


async def test_in_dialogue_requests_follow_the_owner_and_new_calls_stay(cluster):
    one, two, phone, _ = cluster
    bye = await phone.send_request(sip_request("BYE", HELD_CALL, to_tag="aa"), peer(one))
    assert bye.status == 200
    await phone.send_stateless(sip_request("ACK", HELD_CALL, to_tag="aa"), peer(one))
    new_call = await phone.send_request(sip_request("INVITE", "new-call@127.0.0.1"), peer(one))
    assert new_call.status == 486
    await settle(lambda: len(two.served) == 2)
    assert [r.method for r in two.served] == ["BYE", "ACK"]
    assert all(FORWARDED_HEADER in r.headers for r in two.served)
    assert [r.call_id for r in one.served] == ["new-call@127.0.0.1"]
    unknown = await phone.send_request(sip_request("BYE", "nobody@host", to_tag="x"), peer(one))
    assert unknown.status == 200 and one.served[-1].call_id == "nobody@host"


async def test_a_cancel_follows_the_forwarded_invite(cluster):
    one, two, phone, _ = cluster
    replaces = f"{HELD_CALL};to-tag=aa;from-tag=bb"
    invite = sip_request("INVITE", "transfer-2@127.0.0.1", Replaces=replaces, **{"X-Ring": "1"})
    ringing = asyncio.Event()
    final = asyncio.ensure_future(
        phone.send_request(invite, peer(one), on_provisional=lambda r: ringing.set())
    )
    await asyncio.wait_for(ringing.wait(), 2)
    cancel = Request(
        "CANCEL",
        invite.uri,
        [(name, invite.headers.get(name) or "") for name in ("Via", "From", "To", "Call-ID")]
        + [("Max-Forwards", "70"), ("CSeq", "1 CANCEL")],
    )
    assert (await phone.send_request(cancel, peer(one))).status == 200
    assert (await asyncio.wait_for(final, 5)).status == 487
    assert [r.method for r in two.served] == ["INVITE", "CANCEL"]
    assert one.served == []


async def test_a_forged_stamp_is_refused_and_a_forwarded_request_never_bounces(cluster):
    one, two, phone, _ = cluster
    forged = sip_request("BYE", HELD_CALL, to_tag="aa")
    forged.headers.add(FORWARDED_HEADER, "worker=sip-9;source=-;ts=1;sig=00")
    assert (await phone.send_request(forged, peer(one))).status == 403

    stale = sip_request("BYE", HELD_CALL, to_tag="aa")
    ForwardSigner(SECRET).sign(stale, worker_id="sip-3", source="-", now=time.time())
    response = await phone.send_request(stale, peer(one))
    assert response.status == 482
    assert two.served == [] and one.served == []


async def settle(predicate, timeout: float = 2.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.02)


async def test_the_stamp_names_the_phone_a_front_door_named_and_the_header_stays_behind(cluster):
    one, two, phone, _ = cluster
    named = {"X-Sipplatform-Source": "udp:198.51.100.7:5062"}
    bye = sip_request("BYE", HELD_CALL, to_tag="aa", **named)
    assert (await phone.send_request(bye, peer(one))).status == 200
    forwarded = two.served[0]
    stamp = ForwardSigner(SECRET).verify(forwarded, now=time.time())
    assert stamp is not None and stamp.source == "udp:198.51.100.7:5062"
    assert "X-Sipplatform-Source" not in forwarded.headers
