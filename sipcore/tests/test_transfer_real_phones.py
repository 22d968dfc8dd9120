"""Blind transfers with real phones through a SipWorker (PEERS.md). ``tr=n`` declines the
REFER and ends nothing: linphonec's call stays up (baresip hangs up by itself after a failed
transfer); ``tr=p`` passes our own REFER to the transferee's
baresip, which calls the target itself, and its NOTIFYs reach the transferor."""

import asyncio
import time

import pytest

from sipcore.directory import TransferPolicy
from sipcore.tests.phones import DOMAIN, PASSWORD, Baresip, Linphone, running_world

pytestmark = pytest.mark.real
needs_baresip = pytest.mark.skipif(not Baresip.available(), reason="baresip is not installed")
needs_linphonec = pytest.mark.skipif(not Linphone.available(), reason="linphonec is not installed")

LIBRE_ALGORITHMS = ("MD5",)
"""baresip 1.0's libre refuses a 401/407 that carries any SHA-256 challenge."""

PORTS = {
    "alice": (18500, 18510, "18600-18639"),
    "bob": (18502, 18511, "18640-18679"),
    "carol": (18504, 18512, "18680-18719"),
}


async def start_phone(tmp_path, world, user: str) -> Baresip:
    sip_port, ctrl_port, rtp = PORTS[user]
    server = world.addresses["udp"]
    phone = Baresip(tmp_path / user, sip_port, ctrl_port, rtp)
    phone.configure(
        f"<sip:{user}@{DOMAIN}>;auth_pass={PASSWORD};"
        f'outbound="sip:{server.hostport}";regint=300;answermode=auto'
    )
    await phone.start()
    return phone


async def registered(world, *accounts) -> None:
    async with asyncio.timeout(15):
        for record in accounts:
            while not await world.directory.bindings(record.id, time.time()):
                await asyncio.sleep(0.05)


async def phones(tmp_path, world, *users: str) -> dict[str, Baresip]:
    started = {user: await start_phone(tmp_path, world, user) for user in users}
    await registered(world, *(world.directory.accounts[(u, DOMAIN)] for u in users))
    return started


async def stop(started: dict[str, Baresip]) -> None:
    for phone in started.values():
        await phone.stop()


def transfer_kinds(world) -> list[str]:
    return [k for k in world.events.kinds() if k.startswith("transfer.")]


@needs_baresip
async def test_tr_n_declines_baresips_refer_and_the_call_stays_up(tmp_path):
    async with running_world(digest_algorithms=LIBRE_ALGORITHMS) as world:
        for user in ("alice", "bob"):
            world.add_account(user)
        started = await phones(tmp_path, world, "alice", "bob")
        alice, bob = started["alice"], started["bob"]
        try:
            await alice.command("dial", f"sip:bob@{DOMAIN}")
            await alice.wait_event("CALL_ESTABLISHED")
            await bob.wait_event("CALL_ESTABLISHED")
            await bob.command("transfer", f"sip:carol@{DOMAIN}")
            failed = await bob.wait_event("TRANSFER_FAILED")
            assert failed["param"] == "603 Transfers are disabled on this call"
            await world.settle(lambda: len(world.events.transfer_audits) == 1)
            record = world.events.transfer_audits[0]
            assert (record["decision"], record["final_status"]) == ("rejected", 603)
            assert record["refer_to"].endswith(f"sip:carol@{DOMAIN}")
            await alice.wait_event("CALL_CLOSED")
        finally:
            await stop(started)
        # baresip hangs up after a failed transfer itself; the server ended nothing
        assert {d["hangup_reason"] for d in world.details()} == {"BYE from callee"}
        assert transfer_kinds(world) == ["transfer.requested", "transfer.decided"]


@needs_baresip
async def test_tr_p_baresip_transferee_calls_the_target_itself(tmp_path):
    async with running_world(digest_algorithms=LIBRE_ALGORITHMS) as world:
        for user in ("alice", "bob", "carol"):
            world.add_account(user)
        world.change_account("bob", transfer_policy=TransferPolicy(value="p", source="account"))
        started = await phones(tmp_path, world, "alice", "bob", "carol")
        alice, bob, carol = started["alice"], started["bob"], started["carol"]
        try:
            await alice.command("dial", f"sip:bob@{DOMAIN}")
            await alice.wait_event("CALL_ESTABLISHED")
            await bob.wait_event("CALL_ESTABLISHED")
            await bob.command("transfer", f"sip:carol@{DOMAIN}")
            await carol.wait_event("CALL_ESTABLISHED", timeout=15)
            await world.settle(lambda: world.worker.active_calls == 1, timeout=10)
            [call] = world.worker.b2bua.calls
            assert call.a.invite.from_addr.uri.user == "alice"
            assert call.a.invite.uri.user == "carol"
            assert call.b is not None and call.b.peer.port == PORTS["carol"][0]
            await world.settle(
                lambda: [a["outcome"] for a in world.events.transfer_audits][-1:] == ["completed"],
                timeout=10,
            )
            record = world.events.transfer_audits[-1]
            assert record["decision"] == "passed_through"
            assert record["notify_statuses"][0] == 100 and record["notify_statuses"][-1] == 200
            await carol.command("hangup")
        finally:
            await stop(started)


LINPHONE_PORTS = {"alice": (18530, 18730), "bob": (18532, 18732), "carol": (18534, 18734)}


async def linphones(tmp_path, world, *users: str) -> dict[str, Linphone]:
    started = {}
    for user in users:
        sip_port, rtp_port = LINPHONE_PORTS[user]
        phone = Linphone(tmp_path / f"linphone-{user}", sip_port, rtp_port)
        phone.configure(user, PASSWORD, world.addresses["udp"])
        await phone.start()
        started[user] = phone
    await registered(world, *(world.directory.accounts[(u, DOMAIN)] for u in users))
    return started


async def stop_linphones(started: dict[str, Linphone]) -> None:
    for phone in started.values():
        await phone.stop()


@needs_linphonec
async def test_tr_n_declines_linphones_refer_and_the_call_stays_up(tmp_path):
    async with running_world() as world:
        for user in ("alice", "bob"):
            world.add_account(user)
        started = await linphones(tmp_path, world, "alice", "bob")
        alice, bob = started["alice"], started["bob"]
        try:
            await alice.command(f"call sip:bob@{DOMAIN}")
            await alice.wait_line("connected")
            await bob.wait_line("connected")
            await bob.command(f"transfer sip:carol@{DOMAIN}")
            await world.settle(lambda: len(world.events.transfer_audits) == 1)
            record = world.events.transfer_audits[0]
            assert (record["decision"], record["final_status"]) == ("rejected", 603)
            await asyncio.sleep(1.0)
            assert world.worker.active_calls == 1
            assert not [line for line in alice.lines + bob.lines if "ended" in line]
            await alice.command("terminate")
            await bob.wait_line("ended")
        finally:
            await stop_linphones(started)


@needs_linphonec
async def test_tr_p_linphone_transferee_calls_the_target_and_reports_back(tmp_path):
    async with running_world() as world:
        for user in ("alice", "bob", "carol"):
            world.add_account(user)
        world.change_account("bob", transfer_policy=TransferPolicy(value="p", source="account"))
        started = await linphones(tmp_path, world, "alice", "bob", "carol")
        alice, bob, carol = started["alice"], started["bob"], started["carol"]
        try:
            await alice.command(f"call sip:bob@{DOMAIN}")
            await alice.wait_line("connected")
            await bob.wait_line("connected")
            await bob.command(f"transfer sip:carol@{DOMAIN}")
            await carol.wait_line("connected", timeout=15)
            await world.settle(
                lambda: [a["outcome"] for a in world.events.transfer_audits][-1:] == ["completed"],
                timeout=15,
            )
            record = world.events.transfer_audits[-1]
            assert record["decision"] == "passed_through"
            assert record["notify_statuses"][0] == 100 and record["notify_statuses"][-1] == 200
            await world.settle(lambda: world.worker.active_calls == 1, timeout=15)
            [call] = world.worker.b2bua.calls
            assert call.a.invite.from_addr.uri.user == "alice"
            assert call.a.invite.uri.user == "carol"
            await carol.command("terminate")
            await alice.wait_line("ended")
        finally:
            await stop_linphones(started)
