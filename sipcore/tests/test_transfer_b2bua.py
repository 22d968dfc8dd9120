"""Transfers through a running SipWorker with sipcore phones on loopback: who ends up talking
to whom, the NOTIFYs the transferor saw, the audit record and the live events."""

import asyncio

import pytest

from sipcore.directory import TransferPolicy
from sipcore.message import Request, Response
from sipcore.tests.phones import DOMAIN, PhoneCall, World, running_world, sdp
from sipcore.transfer.subscription import parse_sipfrag


@pytest.fixture
async def world():
    async with running_world() as world:
        world.add_account("alice")
        world.add_account("bob")
        world.add_account("carol")
        yield world


async def refer(call: PhoneCall, *headers: tuple[str, str]) -> Response:
    """Send a REFER in ``call``'s dialogue (the phones have no REFER helper of their own)."""
    assert call.dialog is not None
    request = call.dialog.create_request("REFER", headers=list(headers))
    return await call.phone.endpoint.send_request(request, call.peer)


async def notify(call: PhoneCall, state: str, frag: bytes, event: str = "refer") -> Response:
    assert call.dialog is not None
    request = call.dialog.create_request(
        "NOTIFY",
        body=frag,
        content_type="message/sipfrag;version=2.0",
        headers=[("Event", event), ("Subscription-State", state)],
    )
    return await call.phone.endpoint.send_request(request, call.peer)


def notifies(call: PhoneCall) -> list[Request]:
    return [r for r in call.requests if r.method == "NOTIFY"]


async def connected(world: World, callee_policy: str | None = None):
    """alice calls bob (bob's account policy ``callee_policy``); both calls once talking."""
    if callee_policy is not None:
        world.change_account(
            "bob", transfer_policy=TransferPolicy(value=callee_policy, source="account")
        )
    bob = await world.phone("bob")
    alice = await world.phone("alice")
    call = await alice.call(f"sip:bob@{DOMAIN}", body=sdp("alice-1"))
    assert call.final is not None and call.final.status == 200
    incoming = await bob.incoming.get()
    await asyncio.wait_for(incoming.acked.wait(), 5)
    await world.settle(lambda: world.worker.active_calls == 1)
    return call, incoming


async def test_tr_n_declines_every_refer_and_the_call_stays_up(world):
    call, incoming = await connected(world)
    blind = await refer(call, ("Refer-To", f"<sip:carol@{DOMAIN}>"))
    attended = await refer(
        call, ("Refer-To", f"<sip:carol@{DOMAIN}?Replaces=x%3Bto-tag%3D1%3Bfrom-tag%3D2>")
    )
    for response in (blind, attended):
        assert (response.status, response.reason) == (603, "Transfers are disabled on this call")
    assert not notifies(call)
    assert not [r for r in incoming.requests if r.method in ("REFER", "BYE")]
    reinvite = await call.reinvite(sdp("alice-2"))
    assert reinvite.status == 200 and reinvite.body == incoming.phone.answer_body
    assert world.worker.active_calls == 1
    audits = world.events.transfer_audits
    assert [(a["kind"], a["decision"], a["final_status"]) for a in audits] == [
        ("blind", "rejected", 603),
        ("attended", "rejected", 603),
    ]
    assert audits[0]["policy"] == "n" and audits[0]["policy_source"] == "platform"
    assert audits[0]["refer_to"] == f"<sip:carol@{DOMAIN}>"
    assert audits[0]["transferor"].startswith(f"<sip:alice@{DOMAIN}>")
    assert audits[0]["transferee"] == f"<sip:bob@{DOMAIN}>"
    kinds = [k for k in world.events.kinds() if k.startswith("transfer.")]
    assert kinds == ["transfer.requested", "transfer.decided"] * 2


async def test_tr_p_passes_our_own_refer_and_relays_the_transferees_notifies(world):
    call, incoming = await connected(world, callee_policy="p")
    accepted = await refer(call, ("Refer-To", f"<sip:carol@{DOMAIN}>"))
    assert accepted.status == 202
    [passed] = [r for r in incoming.requests if r.method == "REFER"]
    assert passed.headers.get("Refer-To") == f"<sip:carol@{DOMAIN}>"
    assert passed.headers.get("Referred-By") == f"<sip:alice@{DOMAIN}>"
    assert passed.max_forwards == 69
    assert passed.call_id == incoming.invite.call_id != call.invite.call_id
    assert (await notify(incoming, "active;expires=60", b"SIP/2.0 180 Ringing\n")).status == 200
    done = await notify(incoming, "terminated;reason=noresource", b"SIP/2.0 200 OK\r\n")
    assert done.status == 200
    await world.settle(lambda: len(notifies(call)) == 3)
    seen = notifies(call)
    assert [parse_sipfrag(n.body)[0] for n in seen] == [100, 180, 200]
    assert {n.headers.get("Event") for n in seen} == {f"refer;id={call.dialog.local_seq}"}
    assert seen[-1].headers.get("Subscription-State") == "terminated;reason=noresource"
    await world.settle(lambda: len(world.events.transfer_audits) == 2)
    record = world.events.transfer_audits[-1]
    assert (record["decision"], record["outcome"], record["notify_statuses"]) == (
        "passed_through",
        "completed",
        [100, 180, 200],
    )
    assert world.worker.active_calls == 1


async def test_tr_p_the_transferor_hanging_up_ends_the_call_and_records_the_unknown_outcome(world):
    call, incoming = await connected(world, callee_policy="p")
    assert (await refer(call, ("Refer-To", f"<sip:carol@{DOMAIN}>"))).status == 202
    await world.settle(lambda: len(notifies(call)) == 1)
    assert (await call.bye()).status == 200
    await asyncio.wait_for(incoming.ended.wait(), 5)
    await world.settle(lambda: len(world.events.transfer_audits) == 2)
    record = world.events.transfer_audits[-1]
    assert (record["outcome"], record["notify_statuses"]) == ("failed", [100])
    assert record["reason"] == "The call ended before the transferee reported an outcome"
    assert len(notifies(call)) == 1, "no NOTIFY after the transferor's BYE"


async def test_a_refer_with_a_non_sip_target_is_refused_whatever_the_policy(world):
    call, incoming = await connected(world, callee_policy="p")
    response = await refer(call, ("Refer-To", "<tel:+441234567890>"))
    assert (response.status, response.reason) == (
        403,
        "Only SIP and SIPS transfer targets are allowed",
    )
    assert not [r for r in incoming.requests if r.method == "REFER"]


async def test_tr_c_without_a_transfer_dialplan_is_refused_before_acceptance(world):
    call, incoming = await connected(world, callee_policy="c")
    response = await refer(call, ("Refer-To", f"<sip:carol@{DOMAIN}>"))
    assert (response.status, response.reason) == (403, "No transfer dialplan")
    assert not notifies(call)
    assert not [r for r in incoming.requests if r.method in ("REFER", "INVITE", "BYE")]
    assert world.worker.active_calls == 1


async def test_a_refer_outside_any_dialogue_gets_481(world):
    alice = await world.phone("alice")
    server = world.addresses["udp"]
    request = Request(
        "REFER",
        f"sip:bob@{DOMAIN}",
        [
            ("From", f"<sip:alice@{DOMAIN}>;tag=lone-1"),
            ("To", f"<sip:bob@{DOMAIN}>"),
            ("Call-ID", "lone-refer"),
            ("CSeq", "1 REFER"),
            ("Contact", alice.contact),
            ("Refer-To", f"<sip:carol@{DOMAIN}>"),
        ],
    )
    response = await alice.endpoint.send_request(request, server)
    assert response.status == 481
    assert not world.events.transfer_audits


async def test_tr_p_two_refers_in_one_dialogue_keep_their_own_ids(world):
    call, incoming = await connected(world, callee_policy="p")
    first = await refer(call, ("Refer-To", f"<sip:carol@{DOMAIN}>"))
    first_id = call.dialog.local_seq
    second = await refer(call, ("Refer-To", f"<sip:dave@{DOMAIN}>"))
    second_id = call.dialog.local_seq
    assert (first.status, second.status) == (202, 202)
    passed = [r for r in incoming.requests if r.method == "REFER"]
    assert [r.headers.get("Refer-To") for r in passed] == [
        f"<sip:carol@{DOMAIN}>",
        f"<sip:dave@{DOMAIN}>",
    ]
    passed_second = passed[1].cseq.seq
    done = await notify(
        incoming, "terminated", b"SIP/2.0 486 Busy Here\r\n", f"refer;id={passed_second}"
    )
    assert done.status == 200
    await world.settle(lambda: len(notifies(call)) == 3)
    ids = [n.headers.get("Event") for n in notifies(call)]
    assert ids == [f"refer;id={first_id}", f"refer;id={second_id}", f"refer;id={second_id}"]
    assert parse_sipfrag(notifies(call)[-1].body) == (486, "Busy Here")
    outcomes = [a["outcome"] for a in world.events.transfer_audits]
    assert outcomes.count("failed") == 1
