"""The front door: Kamailio (``deploy/kamailio/kamailio.cfg``) in front of several SIP workers.

Real processes on 127.0.0.1: Kamailio from Debian dispatching over UDP to three demo UASes
(``python -m sipcore.uas_demo``) standing in for workers, each identifying itself by the port
in its 200's Contact. Proven here: calls are spread by Call-ID hashing and every request of
one Call-ID reaches the same worker; OPTIONS probing takes a killed worker out (new calls
connect on the others without waiting for a timeout) and puts it back when it returns; a
call to a worker that died before probing noticed fails over after the transaction timer;
dialogue-forming requests are record-routed and in-dialogue requests follow the Route to the
worker, never to anything else (a worker's own go to their Request-URI); the inter-worker
stamp and the caller's source address cannot be smuggled in from outside.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import Counter

import pytest

from sipcore.dialog import Dialog
from sipcore.message import Request, Response, new_call_id, new_tag
from sipcore.tests.phones import Phone, sdp
from sipcore.transport import Peer
from sipplatform.sipworker.tests.support import wait_for_output
from tests.integration.frontdoor import (
    FR_TIMER_MS,
    FrontDoor,
    free_port,
    kamailio_missing,
    start_front_door,
)

pytestmark = pytest.mark.real

WORKERS = 3
DOMAIN = "sipcore.test"


@pytest.fixture
def kamailio_installed() -> None:
    reason = kamailio_missing()
    if reason:
        pytest.skip(reason)


def start_demo_worker(spawn, tmp_path, port: int) -> subprocess.Popen:
    log = tmp_path / f"uas-{port}.log"
    process = spawn(
        [sys.executable, "-m", "sipcore.uas_demo", "--udp", f"127.0.0.1:{port}"],
        dict(os.environ),
        log=log,
    )
    wait_for_output(log, "listening on", process, timeout=30)
    return process


@pytest.fixture
def front(kamailio_installed, spawn, tmp_path) -> tuple[FrontDoor, dict[int, subprocess.Popen]]:
    ports: list[int] = []
    for _ in range(WORKERS):
        ports.append(free_port(*ports))
    workers = {port: start_demo_worker(spawn, tmp_path, port) for port in ports}
    return start_front_door(spawn, tmp_path, ports), workers


@pytest.fixture
async def phone(front):
    door, _ = front
    phone = await Phone.start(user="alice", domain=DOMAIN, server=door_peer(door))
    yield phone
    await phone.close()


def worker_port(response: Response) -> int:
    """The answering worker: the port in its Contact."""
    return response.contacts[0].uri.port or 5060


async def call(phone: Phone, call_id: str | None = None) -> tuple[Response, Dialog | None]:
    """An INVITE through the front door with ``call_id``; a 2xx is acknowledged and ended."""
    assert phone.server is not None
    invite = Request(
        "INVITE",
        f"sip:bob@{DOMAIN}",
        [
            ("Max-Forwards", "70"),
            ("From", f"<sip:alice@{DOMAIN}>;tag={new_tag()}"),
            ("To", f"<sip:bob@{DOMAIN}>"),
            ("Call-ID", call_id or new_call_id()),
            ("CSeq", "1 INVITE"),
            ("Contact", phone.contact),
            ("Content-Type", "application/sdp"),
        ],
        sdp("offer-alice"),
    )
    response = await phone.endpoint.send_request(invite, phone.server)
    if response.status >= 300:
        return response, None
    dialog = Dialog.uac(invite, response, config=phone.endpoint.config.timers)
    await phone.endpoint.send_stateless(dialog.create_ack(1), phone.server)
    bye = await phone.endpoint.send_request(dialog.create_request("BYE"), phone.server)
    assert bye.status == 200, f"BYE through the front door got {bye.status}"
    return response, dialog


async def test_calls_are_spread_by_call_id_and_stay_with_their_worker(front, phone):
    _, workers = front
    answered: Counter[int] = Counter()
    for _ in range(30):
        response, _ = await call(phone)
        assert response.status == 200
        answered[worker_port(response)] += 1
    assert set(answered) == set(workers), f"not every worker got calls: {answered}"

    for call_id in (new_call_id(), new_call_id()):
        first, _ = await call(phone, call_id)
        again = [worker_port((await call(phone, call_id))[0]) for _ in range(3)]
        assert again == [worker_port(first)] * 3


async def test_probing_takes_a_killed_worker_out_and_back_in(front, phone, spawn, tmp_path):
    door, workers = front
    victim = next(iter(workers))
    workers[victim].send_signal(signal.SIGKILL)
    workers[victim].wait()
    taken_out = await asyncio.to_thread(door.wait_for_flags, victim, "IP", 5.0)
    assert taken_out < 5.0

    for _ in range(15):
        started = time.monotonic()
        response, _ = await call(phone)
        assert response.status == 200
        assert worker_port(response) != victim
        assert time.monotonic() - started < FR_TIMER_MS / 1000, "a call waited for a timeout"

    start_demo_worker(spawn, tmp_path, victim)
    await asyncio.to_thread(door.wait_for_flags, victim, "AP", 5.0)
    ports = {worker_port((await call(phone))[0]) for _ in range(30)}
    assert victim in ports


async def test_a_worker_gone_silent_costs_a_call_at_most_one_transaction_timeout(front, phone):
    _, workers = front
    call_id = new_call_id()
    response, _ = await call(phone, call_id)
    first = worker_port(response)
    workers[first].send_signal(signal.SIGSTOP)  # silent, as a dead host: no ICMP, no reply
    try:
        started = time.monotonic()
        response, _ = await call(phone, call_id)  # hashes to the silent worker
        assert response.status == 200
        assert worker_port(response) != first
        assert time.monotonic() - started < FR_TIMER_MS / 1000 + 3
    finally:
        workers[first].send_signal(signal.SIGCONT)


async def test_dialogues_are_record_routed_and_in_dialogue_requests_reach_only_workers(
    kamailio_installed, spawn, tmp_path
):
    worker = await Phone.start(user="bob", domain=DOMAIN)  # answers OPTIONS probes and calls
    outsider = await Phone.start(user="eve", domain=DOMAIN)
    door = start_front_door(spawn, tmp_path, [worker.local.port], outsider.local.port)
    caller = await Phone.start(user="alice", domain=DOMAIN, server=door_peer(door))
    try:
        smuggled = [
            ("X-Sipplatform-Forwarded", "worker=sip-1;source=-;ts=1;sig=00"),
            ("X-Sipplatform-Source", "udp:192.0.2.1:5060"),
        ]
        placed = await caller.call(f"sip:bob@{DOMAIN}", headers=smuggled)
        assert placed.final is not None and placed.final.status == 200
        invite = worker.calls[0].invite
        front_route = invite.record_routes[0].uri
        assert (front_route.host, front_route.port) == ("127.0.0.1", door.port)
        assert "lr" in front_route.params
        assert "X-Sipplatform-Forwarded" not in invite.headers
        assert invite.headers.get("X-Sipplatform-Source") == f"udp:127.0.0.1:{caller.local.port}"

        to_tag = worker.calls[0].to_tag
        relay = in_dialogue_bye(placed.invite, door, target=outsider.contact, to_tag="other")
        response = await caller.endpoint.send_request(relay, door_peer(door))
        assert response.status == 481  # hashed to a worker, which knows no such dialogue
        assert outsider.requests == []

        bye = in_dialogue_bye(placed.invite, door, target=worker.contact, to_tag=to_tag)
        assert (await caller.endpoint.send_request(bye, door_peer(door))).status == 200
        assert worker.calls[0].requests[-1].method == "BYE"
        assert worker.calls[0].requests[-1].vias[0].port == door.port

        # a worker's own in-dialogue request goes to its Request-URI, Route or not
        towards_phone = in_dialogue_bye(placed.invite, door, target=outsider.contact, to_tag="t")
        towards_phone.headers.remove("Route")
        response = await worker.endpoint.send_request(towards_phone, door_peer(door))
        assert response.status == 481  # the outsider got it and knows no such dialogue
        assert [r.method for r in outsider.requests] == ["BYE"]
    finally:
        for phone in (caller, worker, outsider):
            await phone.close()


def door_peer(door: FrontDoor) -> Peer:
    return Peer("udp", "127.0.0.1", door.port)


def in_dialogue_bye(invite: Request, door: FrontDoor, *, target: str, to_tag: str) -> Request:
    """A BYE as a phone honouring the front door's Record-Route sends it, to ``target``."""
    return Request(
        "BYE",
        target.strip("<>"),
        [
            ("Route", f"<sip:127.0.0.1:{door.port};lr>"),
            ("Max-Forwards", "70"),
            ("From", invite.headers.get("From") or ""),
            ("To", f"{invite.headers.get('To')};tag={to_tag}"),
            ("Call-ID", invite.call_id),
            ("CSeq", "2 BYE"),
        ],
    )
