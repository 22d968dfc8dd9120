"""The SipWorker as the command runs it: listeners, dispatch, binding expiry, drain."""

import asyncio
import socket

import pytest

from sipcore.message import Request, new_call_id, new_tag
from sipcore.tests.phones import DOMAIN, running_world


def out_of_dialogue(method: str, *, to_tag: str = "") -> Request:
    to = f"<sip:bob@{DOMAIN}>" + (f";tag={to_tag}" if to_tag else "")
    return Request(
        method,
        f"sip:bob@{DOMAIN}",
        [
            ("From", f"<sip:alice@{DOMAIN}>;tag={new_tag()}"),
            ("To", to),
            ("Call-ID", new_call_id()),
            ("CSeq", f"1 {method}"),
        ],
    )


async def test_start_binds_every_listener_and_answers_requests_outside_calls():
    async with running_world() as world:
        assert set(world.addresses) == {"udp", "tcp"}
        assert all(peer.port > 0 for peer in world.addresses.values())
        phone = await world.phone("probe", register=False)
        for transport in ("udp", "tcp"):
            server = world.addresses[transport]
            options = await phone.endpoint.send_request(out_of_dialogue("OPTIONS"), server)
            assert options.status == 200
            assert "INVITE" in options.headers.get("Allow")
        server = world.addresses["udp"]
        subscribe = await phone.endpoint.send_request(out_of_dialogue("SUBSCRIBE"), server)
        assert subscribe.status == 405
        stray_bye = await phone.endpoint.send_request(out_of_dialogue("BYE", to_tag="nope"), server)
        assert stray_bye.status == 481


async def test_expired_bindings_are_swept_and_reported():
    async with running_world(min_expires=1, binding_sweep_interval=0.1) as world:
        world.add_account("bob")
        bob = await world.phone("bob", register=False)
        assert (await bob.register(expires=1)).status == 200
        await world.settle(lambda: "registration.expired" in world.events.kinds(), timeout=5)
        account = world.directory.accounts[("bob", DOMAIN)]
        assert await world.directory.bindings(account.id, 0) == []


async def test_drain_lets_calls_end_by_themselves_within_the_grace():
    async with running_world() as world:
        world.add_account("alice")
        world.add_account("bob")
        bob = await world.phone("bob")
        alice = await world.phone("alice")
        call = await alice.call(f"sip:bob@{DOMAIN}")
        incoming = await bob.incoming.get()
        drain = asyncio.ensure_future(world.worker.drain(30))
        await asyncio.sleep(0.1)
        assert not drain.done()
        await call.bye()
        await asyncio.wait_for(drain, 5)
        assert incoming.ended.is_set()
        assert {d["hangup_reason"] for d in world.details()} == {"BYE from caller"}


async def test_register_reaches_the_registrar_over_tcp():
    async with running_world() as world:
        world.add_account("bob")
        bob = await world.phone("bob", "tcp", register=False)
        response = await bob.register()
        assert response.status == 200
        assert response.headers.get("Contact").startswith(f"<sip:bob@{bob.local.hostport}")


MALFORMED = [
    ("INVITE", "<sip:a@example.test>;tag=1", "<sip:bob@example.test", "<sip:a@127.0.0.1>"),
    ("INVITE", "<sip:a@example.test>;tag=1", "<sip:bob@example.test>", "<sip:a@127.0.0.1;>>"),
    ("INFO", "<sip:a@example.test", "<sip:bob@example.test>;tag=1", "<sip:a@127.0.0.1>"),
]


@pytest.mark.parametrize(("method", "sender", "to", "contact"), MALFORMED)
async def test_malformed_requests_get_400_and_the_worker_carries_on(method, sender, to, contact):
    async with running_world() as world:
        loop = asyncio.get_running_loop()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as raw:
            raw.bind(("127.0.0.1", 0))
            raw.setblocking(False)
            port = raw.getsockname()[1]
            message = (
                f"{method} sip:bob@{DOMAIN} SIP/2.0\r\n"
                f"Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bKbroken\r\n"
                f"From: {sender}\r\nTo: {to}\r\nCall-ID: broken\r\nCSeq: 1 {method}\r\n"
                f"Contact: {contact}\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
            )
            await loop.sock_sendto(raw, message.encode(), world.addresses["udp"].address())
            async with asyncio.timeout(5):
                reply = await loop.sock_recv(raw, 65535)
                while reply.startswith(b"SIP/2.0 100 "):
                    reply = await loop.sock_recv(raw, 65535)
        assert reply.startswith(b"SIP/2.0 400 ")
        world.add_account("bob")
        bob = await world.phone("bob", register=False)
        assert (await bob.register()).status == 200
