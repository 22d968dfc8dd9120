"""End to end with real phones: two baresip (or two linphonec) instances register with digest
to a SipWorker on MemoryDirectory and call each other through it, over UDP and over TCP, and
each side hangs up once (PEERS.md)."""

import asyncio
import time

import pytest

from sipcore.tests.phones import DOMAIN, PASSWORD, Baresip, Linphone, running_world

pytestmark = pytest.mark.real
needs_baresip = pytest.mark.skipif(not Baresip.available(), reason="baresip is not installed")
needs_linphonec = pytest.mark.skipif(not Linphone.available(), reason="linphonec is not installed")

LIBRE_ALGORITHMS = ("MD5",)
"""baresip 1.0's libre refuses a 401/407 that carries any SHA-256 challenge (ENOSYS)."""

PORTS = {
    "udp": {"alice": (17100, 17110, "17200-17249"), "bob": (17102, 17111, "17250-17299")},
    "tcp": {"alice": (17104, 17112, "17300-17349"), "bob": (17106, 17113, "17350-17399")},
}


async def start_phone(tmp_path, world, user: str, transport: str) -> Baresip:
    sip_port, ctrl_port, rtp = PORTS[transport][user]
    server = world.addresses[transport]
    phone = Baresip(tmp_path / f"{user}-{transport}", sip_port, ctrl_port, rtp)
    outbound = f"sip:{server.hostport};transport={transport}"
    phone.configure(
        f"<sip:{user}@{DOMAIN};transport={transport}>;auth_pass={PASSWORD};"
        f'outbound="{outbound}";regint=300;answermode=auto'
    )
    await phone.start()
    return phone


async def established(world, *phones: Baresip) -> None:
    """The call is up (on every baresip phone given too), its SDP passed through untouched."""
    for phone in phones:
        await phone.wait_event("CALL_ESTABLISHED")
    await world.settle(lambda: world.worker.active_calls == 1)
    [call] = world.worker.b2bua.calls
    assert call.b is not None
    offer, answer = call.a.invite.body, call.b.remote_sdp
    assert b"m=audio" in offer and b"m=audio" in answer
    assert call.b.invite.body == offer
    assert offer != answer


def check_records(world, transport: str) -> None:
    details = world.details()
    assert len(details) == 4
    assert all(d["answered_status"] == 200 for d in details)
    assert sorted(d["hangup_reason"] for d in details) == [
        "BYE from callee",
        "BYE from callee",
        "BYE from caller",
        "BYE from caller",
    ]
    assert all(d["remote_socket"].startswith(transport) for d in details)


async def registered(world, *accounts) -> list:
    """Wait until every account has a binding; returns one binding of each."""
    found = []
    async with asyncio.timeout(15):
        for record in accounts:
            while not (bindings := await world.directory.bindings(record.id, time.time())):
                await asyncio.sleep(0.05)
            found.append(bindings[0])
    return found


@needs_baresip
@pytest.mark.parametrize("transport", ["udp", "tcp"])
async def test_baresip_phones_call_each_other_through_the_worker(tmp_path, transport):
    async with running_world(digest_algorithms=LIBRE_ALGORITHMS) as world:
        accounts = {user: world.add_account(user) for user in ("alice", "bob")}
        alice = await start_phone(tmp_path, world, "alice", transport)
        bob = await start_phone(tmp_path, world, "bob", transport)
        try:
            bindings = await registered(world, *accounts.values())
            assert {binding.transport for binding in bindings} == {transport}

            await alice.command("dial", f"sip:bob@{DOMAIN}")
            await established(world, alice, bob)
            await bob.command("hangup")
            await alice.wait_event("CALL_CLOSED")
            await world.settle(lambda: world.worker.active_calls == 0)

            await bob.command("dial", f"sip:alice@{DOMAIN}")
            await established(world, alice, bob)
            await bob.command("hangup")
            await alice.wait_event("CALL_CLOSED")
            await world.settle(lambda: len(world.details()) == 4)
        finally:
            await alice.stop()
            await bob.stop()
        check_records(world, transport)


LINPHONE_PORTS = {
    "udp": {"alice": (17140, 17150), "bob": (17142, 17152)},
    "tcp": {"alice": (17144, 17154), "bob": (17146, 17156)},
}


@needs_linphonec
@pytest.mark.parametrize("transport", ["udp", "tcp"])
async def test_linphone_phones_call_each_other_with_sha256_digest(tmp_path, monkeypatch, transport):
    async with running_world() as world:
        accounts = [world.add_account(user) for user in ("alice", "bob")]
        algorithms = []
        decide = world.worker.digest.decide

        async def recording(attempt, ha1):
            outcome = await decide(attempt, ha1)
            algorithms.append(getattr(outcome, "algorithm", None))
            return outcome

        monkeypatch.setattr(world.worker.digest, "decide", recording)
        phones = {}
        for user in ("alice", "bob"):
            sip_port, rtp_port = LINPHONE_PORTS[transport][user]
            phone = Linphone(tmp_path / f"{user}-{transport}", sip_port, rtp_port)
            phone.configure(user, PASSWORD, world.addresses[transport])
            phones[user] = phone
            await phone.start()
        alice, bob = phones["alice"], phones["bob"]
        try:
            await registered(world, *accounts)
            assert set(algorithms) == {"SHA-256"}
            await alice.command(f"call sip:bob@{DOMAIN}")
            await alice.wait_line("connected")
            await bob.wait_line("connected")
            await established(world)
            await bob.command("terminate")
            await alice.wait_line("ended")
            await world.settle(lambda: world.worker.active_calls == 0)

            await bob.command(f"call sip:alice@{DOMAIN}")
            await alice.wait_line("connected")
            await bob.wait_line("connected")
            await established(world)
            await bob.command("terminate")
            await alice.wait_line("ended")
            await world.settle(lambda: len(world.details()) == 4)
        finally:
            await alice.stop()
            await bob.stop()
        check_records(world, transport)
