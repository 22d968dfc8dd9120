"""Server-side transfers through a running SipWorker with sipcore phones on loopback: attended
(Replaces), semi-attended, and ``tr=c`` blind. Each test checks who ends up talking to whom
(every phone's dialogue state and the session description it holds), the NOTIFYs the
transferor saw, the audit record and the live events."""

import asyncio
from urllib.parse import quote

import pytest

from sipcore.directory import TransferPolicy
from sipcore.message import Request
from sipcore.policy import DestinationRules
from sipcore.tests.phones import DOMAIN, Phone, PhoneCall, World, running_world, sdp
from sipcore.transfer.subscription import parse_sipfrag

TRANSFER_DIALPLAN = 'sys.Dial("${dst}@local")\n'
"""The owner's ``transfer`` dialplan: ring the Refer-To user's registered phones."""


@pytest.fixture
async def world():
    async with running_world() as world:
        for user in ("alice", "bob", "carol", "dave"):
            world.add_account(user)
        yield world


def use_policy(world: World, value: str, *users: str, **fields: object) -> None:
    for user in users:
        world.change_account(
            user, transfer_policy=TransferPolicy(value=value, source="account"), **fields
        )


def account_id(world: World, user: str) -> int:
    return world.directory.accounts[(user, DOMAIN)].id


async def talking(world: World, caller: Phone, callee: Phone, offer: bytes):
    """``caller`` calls ``callee``, which answers: both ends of the call once it is up."""
    call = await caller.call(f"sip:{callee.user}@{DOMAIN}", body=offer)
    assert call.final is not None and call.final.status == 200
    incoming = await callee.incoming.get()
    await asyncio.wait_for(incoming.acked.wait(), 5)
    return call, incoming


def replaces_uri(call: PhoneCall, user: str = "carol", *, early_only: bool = False) -> str:
    """A Refer-To naming ``call``'s dialogue as its caller sees it (RFC 3891 §6.1): the
    to-tag is the far end's (ours), the from-tag the caller's own."""
    if call.dialog is not None:
        dialog_id = call.dialog.id
        call_id, local, remote = dialog_id.call_id, dialog_id.local_tag, dialog_id.remote_tag
    else:
        tagged = [r for r in call.provisionals if r.to_addr.tag]
        call_id, local = call.invite.call_id, call.invite.from_addr.tag
        remote = tagged[-1].to_addr.tag
    value = f"{call_id};to-tag={remote};from-tag={local}" + (";early-only" if early_only else "")
    return f"<sip:{user}@{DOMAIN}?Replaces={quote(value, safe='')}>"


async def refer(call: PhoneCall, refer_to: str):
    return await call.request(
        "REFER", headers=[("Refer-To", refer_to), ("Referred-By", f"<sip:alice@{DOMAIN}>")]
    )


def notifies(call: PhoneCall) -> list[Request]:
    return [r for r in call.requests if r.method == "NOTIFY"]


def notified(call: PhoneCall) -> list[int]:
    return [parse_sipfrag(n.body)[0] for n in notifies(call)]


def invites(call: PhoneCall) -> list[bytes]:
    """The session descriptions of the re-INVITEs ``call`` received."""
    return [r.body for r in call.requests if r.method == "INVITE"]


def transfer_kinds(world: World) -> list[str]:
    return [k for k in world.events.kinds() if k.startswith("transfer.")]


async def final_audit(world: World, outcome: str) -> dict:
    await world.settle(lambda: world.events.transfer_audits[-1]["outcome"] == outcome)
    return dict(world.events.transfer_audits[-1])


def talk(x: PhoneCall, y: PhoneCall) -> bool:
    """Each phone holds the session description the other gave last: they hear each other."""
    return bool(x.remote_sdp) and x.remote_sdp == y.local_sdp and y.remote_sdp == x.local_sdp


async def still_talking(caller: PhoneCall, callee: PhoneCall, body: bytes) -> None:
    """A re-INVITE from ``caller`` reaches ``callee`` and comes back with its answer."""
    response = await caller.reinvite(body)
    assert response.status == 200 and response.body == callee.phone.answer_body
    assert invites(callee)[-1] == body
    assert not caller.ended.is_set() and not callee.ended.is_set()


async def alice_talks_to_bob(world: World, **carol_settings: object):
    """Phones for bob, carol (``carol_settings``: its mode and the like) and alice; alice calls
    bob, who answers: carol's phone and both ends of alice's call to bob."""
    bob, carol = await world.phone("bob"), await world.phone("carol", **carol_settings)
    alice = await world.phone("alice")
    first, at_bob = await talking(world, alice, bob, sdp("alice-bob"))
    return carol, first, at_bob


async def refer_is_rejected(
    world: World, first: PhoneCall, at_bob: PhoneCall, refer_to: str, status: int, reason: str
) -> None:
    """alice's REFER on ``first`` gets ``status`` ``reason`` and no NOTIFY, the transfer is
    audited and shown as rejected, and alice and bob go on talking."""
    response = await refer(first, refer_to)
    assert (response.status, response.reason) == (status, reason)
    assert not notifies(first)
    await still_talking(first, at_bob, sdp("alice-bob-2"))
    assert invites(at_bob) == [sdp("alice-bob-2")]
    audit = world.events.transfer_audits[-1]
    assert (audit["decision"], audit["final_status"], audit["outcome"]) == (
        "rejected",
        status,
        "rejected",
    )
    assert transfer_kinds(world) == ["transfer.requested", "transfer.decided"]


async def answered_and_joined(
    world: World, first: PhoneCall, at_bob: PhoneCall, placed: PhoneCall
) -> dict:
    """carol answers the transfer's call to her (``placed``): alice's call ``first`` ends after
    NOTIFYs 100, 180 and 200, and bob and carol talk. The completed audit record."""
    placed.answer()
    await asyncio.wait_for(first.ended.wait(), 10)
    assert notified(first) == [100, 180, 200]
    assert invites(at_bob) == [placed.phone.answer_body]
    await world.settle(lambda: placed.ack is not None)
    assert placed.ack.body == at_bob.phone.answer_body
    assert talk(at_bob, placed) and at_bob.remote_sdp == placed.phone.answer_body
    return await final_audit(world, "completed")


async def attended_refer_joins(
    first: PhoneCall, at_bob: PhoneCall, consult: PhoneCall, at_carol: PhoneCall, refer_to: str
) -> None:
    """alice's REFER on ``first`` (``refer_to`` naming ``consult``) is accepted; both her
    calls end after NOTIFYs 100 and 200, and bob and carol talk, each sent the other's session
    in one re-INVITE (one offer/answer at a time)."""
    assert (await refer(first, refer_to)).status == 202
    await asyncio.wait_for(first.ended.wait(), 5)
    await asyncio.wait_for(consult.ended.wait(), 5)
    assert notified(first) == [100, 200]
    assert notifies(first)[-1].headers.get("Subscription-State") == "terminated;reason=noresource"
    assert invites(at_bob) == [at_carol.phone.answer_body]
    assert invites(at_carol) == [at_bob.phone.answer_body]
    assert talk(at_bob, at_carol) and at_bob.remote_sdp == at_carol.phone.answer_body
    assert not at_bob.ended.is_set() and not at_carol.ended.is_set()


# attended -----------------------------------------------------------------------------------


async def attended_setup(world: World, policy: str = "p"):
    """bob and carol under transfer policy ``policy``; alice talks to bob (``first``), then
    to carol (``consult``): both ends of both calls."""
    use_policy(world, policy, "bob", "carol")
    carol, first, at_bob = await alice_talks_to_bob(world)
    consult, at_carol = await talking(world, first.phone, carol, sdp("alice-carol"))
    return first, at_bob, consult, at_carol


async def test_an_attended_transfer_bridges_transferee_and_target_and_releases_the_transferor(
    world,
):
    first, at_bob, consult, at_carol = await attended_setup(world)
    bob, carol = at_bob.phone, at_carol.phone
    await world.settle(lambda: world.worker.active_calls == 2)
    refer_to = replaces_uri(consult)

    await attended_refer_joins(first, at_bob, consult, at_carol, refer_to)

    assert {n.headers.get("Event") for n in notifies(first)} == {
        f"refer;id={first.dialog.local_seq}"
    }
    await world.settle(lambda: world.worker.active_calls == 1)
    concurrent = world.worker.b2bua.concurrent
    assert concurrent.active(account_id(world, "bob")) == 1
    assert concurrent.active(account_id(world, "carol")) == 0

    record = await final_audit(world, "completed")
    assert (record["kind"], record["decision"], record["final_status"]) == (
        "attended",
        "processed",
        200,
    )
    assert record["notify_statuses"] == [100, 200]
    assert record["refer_to"] == refer_to
    assert record["replaces"].startswith(consult.invite.call_id)
    assert record["referred_by"] == f"<sip:alice@{DOMAIN}>"
    assert (record["policy"], record["policy_source"]) == ("p", "account")
    assert record["account_id"] == account_id(world, "alice")
    assert consult.invite.call_id in record["related_call_ids"]
    assert record["transferor"] == f"<sip:alice@{DOMAIN}>", "the party, without its dialogue tag"
    assert record["transferee"] == f"<sip:bob@{DOMAIN}>"
    assert transfer_kinds(world) == [
        "transfer.requested",
        "transfer.decided",
        "transfer.progress",
        "transfer.progress",
        "transfer.completed",
    ]
    assert "call.bridged" in world.events.kinds()

    # the re-paired call relays like any other, a delayed offer's answer in the ACK too
    await still_talking(at_bob, at_carol, sdp("bob-hold"))
    assert (await at_carol.request("INFO")).status == 200
    assert at_bob.requests[-1].method == "INFO"
    offerless = await at_carol.request("INVITE")
    assert offerless.status == 200 and offerless.body == bob.answer_body
    await world.settle(lambda: at_bob.ack is not None and at_bob.ack.body == carol.answer_body)

    assert (await at_carol.bye()).status == 200
    await asyncio.wait_for(at_bob.ended.wait(), 5)
    await world.settle(lambda: world.worker.active_calls == 0)
    assert concurrent.active(account_id(world, "bob")) == 0
    await world.settle(lambda: len(world.details()) == 4)
    details = world.details()
    assert len({d["leg_id"] for d in details}) == 4, "every leg recorded exactly once"
    by_call = {d["call_id"]: d for d in details}
    bob_leg = by_call[at_bob.invite.call_id]
    carol_leg = by_call[at_carol.invite.call_id]
    assert bob_leg["bridged_call_id"] == carol_leg["call_id"]
    assert carol_leg["bridged_call_id"] == bob_leg["call_id"]
    assert by_call[first.invite.call_id]["hangup_reason"] == "transferred"
    assert by_call[consult.invite.call_id]["hangup_reason"] == "transferred"


async def test_an_attended_transfer_goes_on_when_the_transferor_hangs_up_after_the_202(world):
    first, at_bob, consult, at_carol = await attended_setup(world, "c")
    bob, carol = at_bob.phone, at_carol.phone

    assert (await refer(first, replaces_uri(consult))).status == 202
    assert (await first.bye()).status == 200
    assert (await consult.bye()).status == 200

    record = await final_audit(world, "completed")
    assert record["final_status"] == 200
    await world.settle(lambda: at_carol.remote_sdp == bob.answer_body)
    assert at_bob.remote_sdp == carol.answer_body
    assert not at_bob.ended.is_set() and not at_carol.ended.is_set()
    await world.settle(lambda: world.worker.active_calls == 1)
    await still_talking(at_carol, at_bob, sdp("carol-2"))


@pytest.mark.parametrize(
    ("case", "status", "reason"),
    [
        ("unknown", 481, "Replaced dialogue does not exist"),
        ("terminated", 603, "Replaced dialogue has ended"),
        ("early-only", 486, "Replaced dialogue is already answered"),
        ("own", 400, "Replaces names the REFER's own dialogue"),
        ("other account", 403, "Replaced dialogue belongs to another account"),
    ],
)
async def test_rfc_3891_rejections_leave_both_calls_as_they_were(world, case, status, reason):
    use_policy(world, "p", "bob", "carol", "dave")
    bob, carol, dave = (
        await world.phone("bob"),
        await world.phone("carol"),
        await world.phone("dave"),
    )
    alice = await world.phone("alice")
    first, at_bob = await talking(world, alice, bob, sdp("alice-bob"))
    consult, at_carol = await talking(world, alice, carol, sdp("alice-carol"))
    if case == "unknown":
        refer_to = f"<sip:carol@{DOMAIN}?Replaces=nosuchcall%3Bto-tag%3Dx%3Bfrom-tag%3Dy>"
    elif case == "terminated":
        assert (await consult.bye()).status == 200
        await asyncio.wait_for(at_carol.ended.wait(), 5)
        refer_to = replaces_uri(consult)
    elif case == "early-only":
        refer_to = replaces_uri(consult, early_only=True)
    elif case == "own":
        refer_to = replaces_uri(first)
    else:
        others, _ = await talking(world, dave, carol, sdp("dave-carol"))
        refer_to = replaces_uri(others)

    await refer_is_rejected(world, first, at_bob, refer_to, status, reason)

    if case != "terminated":
        await still_talking(consult, at_carol, sdp("alice-carol-2"))


async def test_a_failed_target_reinvite_notifies_the_failure_and_restores_the_bridges(world):
    first, at_bob, consult, at_carol = await attended_setup(world)
    carol = at_carol.phone
    carol.reinvite_statuses = [488]

    assert (await refer(first, replaces_uri(consult))).status == 202

    record = await final_audit(world, "failed")
    assert record["final_status"] == 488
    await world.settle(lambda: notified(first) == [100, 488])
    assert notifies(first)[-1].headers.get("Subscription-State") == "terminated;reason=noresource"
    # bob was offered carol's session, then given back what alice had offered him
    assert invites(at_bob) == [carol.answer_body, sdp("alice-bob")]
    assert at_bob.remote_sdp == sdp("alice-bob")
    assert at_carol.remote_sdp == sdp("alice-carol")
    assert world.worker.active_calls == 2
    await still_talking(first, at_bob, sdp("alice-bob-2"))
    await still_talking(consult, at_carol, sdp("alice-carol-2"))
    assert (await first.bye()).status == 200
    await asyncio.wait_for(at_bob.ended.wait(), 5)
    assert not at_carol.ended.is_set()


async def transfer_meeting_491(world: World):
    """An attended transfer (``attended_setup``) whose re-INVITE of bob meets his 491: both
    ends of both calls once bob has answered it."""
    first, at_bob, consult, at_carol = await attended_setup(world)
    at_bob.phone.reinvite_statuses = [491]
    assert (await refer(first, replaces_uri(consult))).status == 202
    await world.settle(lambda: len(invites(at_bob)) == 1)
    return first, at_bob, consult, at_carol


async def test_a_491_from_the_transferee_backs_off_and_the_retry_completes(world):
    _, at_bob, _, at_carol = await transfer_meeting_491(world)
    carol = at_carol.phone

    started = asyncio.get_running_loop().time()
    record = await final_audit(world, "completed")
    assert asyncio.get_running_loop().time() - started >= 2.0, "the owner of bob's Call-ID waits"
    assert invites(at_bob) == [carol.answer_body, carol.answer_body]
    assert talk(at_bob, at_carol) and at_bob.remote_sdp == carol.answer_body
    assert record["notify_statuses"] == [100, 200]


async def test_a_relayed_offer_meets_491_while_the_transfer_renegotiates(world):
    _, at_bob, _, at_carol = await transfer_meeting_491(world)
    carol = at_carol.phone

    assert (await at_bob.reinvite(sdp("bob-meanwhile"))).status == 491
    await final_audit(world, "completed")
    assert at_bob.remote_sdp == carol.answer_body


# semi-attended --------------------------------------------------------------------------------


async def semi_attended_setup(world: World, policy: str = "p", **policy_fields: object):
    """bob and carol under transfer policy ``policy`` (and ``policy_fields``); alice talks to
    bob (``first``) and her consultation call (``consult``) rings carol: both ends of both."""
    use_policy(world, policy, "bob", "carol", **policy_fields)
    carol, first, at_bob = await alice_talks_to_bob(world, mode="ring")
    consult = await first.phone.call(f"sip:carol@{DOMAIN}", body=sdp("alice-carol"), wait=False)
    await asyncio.wait_for(consult.ringing.wait(), 5)
    at_carol = await carol.incoming.get()
    await world.settle(lambda: any(r.to_addr.tag for r in consult.provisionals))
    return first, at_bob, consult, at_carol


async def test_semi_attended_takeover_bridges_the_transferee_when_the_ringing_target_answers(
    world,
):
    first, at_bob, consult, at_carol = await semi_attended_setup(world)
    carol = at_carol.phone

    assert (await refer(first, replaces_uri(consult))).status == 202

    await asyncio.wait_for(consult.task, 5)
    assert consult.final.status == 487
    await consult.cancel()  # what a transferor may still send: carol must ring on
    await asyncio.sleep(0.2)
    assert not at_carol.cancelled.is_set()
    assert invites(at_bob) == [], "bob is not touched while carol rings"
    at_carol.answer()
    await asyncio.wait_for(first.ended.wait(), 5)
    assert notified(first) == [100, 200]
    assert talk(at_bob, at_carol) and at_bob.remote_sdp == carol.answer_body
    record = await final_audit(world, "completed")
    assert record["kind"] == "semi_attended"
    await world.settle(lambda: world.worker.active_calls == 1)
    await still_talking(at_carol, at_bob, sdp("carol-2"))
    assert (await at_bob.bye()).status == 200
    await asyncio.wait_for(at_carol.ended.wait(), 5)
    await world.settle(lambda: world.worker.active_calls == 0)
    await world.settle(lambda: len(world.details()) == 4)
    assert len({d["leg_id"] for d in world.details()}) == 4


async def test_semi_attended_takeover_of_a_target_that_declines_keeps_the_original_call(world):
    first, at_bob, consult, at_carol = await semi_attended_setup(world)
    assert (await refer(first, replaces_uri(consult))).status == 202
    await asyncio.wait_for(consult.task, 5)

    at_carol.final = at_carol.handle.reply(486, to_tag=at_carol.to_tag)

    record = await final_audit(world, "failed")
    assert record["final_status"] == 486
    assert notified(first) == [100, 486]
    assert invites(at_bob) == []
    await still_talking(first, at_bob, sdp("alice-bob-2"))
    await world.settle(lambda: world.worker.active_calls == 1)


async def test_semi_attended_fallback_cancels_the_consultation_and_transfers_blind(world):
    world.directory.add_dialplan(1, "transfer", TRANSFER_DIALPLAN)
    # bob owns the REFER's call: his account's setting chooses the fallback
    first, at_bob, consult, at_carol = await semi_attended_setup(
        world, "c", semi_attended_fallback_blind=True
    )
    carol = at_carol.phone

    assert (await refer(first, replaces_uri(consult))).status == 202

    await asyncio.wait_for(at_carol.cancelled.wait(), 5)
    await asyncio.wait_for(consult.task, 5)
    assert consult.final.status == 487
    placed = await asyncio.wait_for(carol.incoming.get(), 10)
    assert placed.invite.body == b"", "the transfer's INVITE makes no offer"
    assert placed.invite.headers.get("Referred-By") == f"<sip:alice@{DOMAIN}>"
    record = await answered_and_joined(world, first, at_bob, placed)
    assert record["kind"] == "semi_attended"
    await still_talking(placed, at_bob, sdp("carol-2"))


# tr=c blind -----------------------------------------------------------------------------------


async def blind_setup(world: World, **carol_settings: object):
    use_policy(world, "c", "bob")
    world.directory.add_dialplan(1, "transfer", TRANSFER_DIALPLAN)
    return await alice_talks_to_bob(world, **carol_settings)


async def test_tr_c_rings_the_target_first_then_connects_transferee_and_target(world):
    carol, first, at_bob = await blind_setup(world, mode="ring")

    assert (await refer(first, f"<sip:carol@{DOMAIN}>")).status == 202

    placed = await asyncio.wait_for(carol.incoming.get(), 10)
    await world.settle(lambda: notified(first) == [100, 180])
    assert placed.invite.body == b""
    assert placed.invite.headers.get("Referred-By") == f"<sip:alice@{DOMAIN}>"
    assert invites(at_bob) == [], "the transferee is not touched while the target rings"
    record = await answered_and_joined(world, first, at_bob, placed)
    assert (record["kind"], record["decision"], record["policy"]) == ("blind", "processed", "c")
    assert record["target"] == f"sip:carol@{DOMAIN}"
    await world.settle(lambda: world.worker.active_calls == 1)
    await still_talking(at_bob, placed, sdp("bob-2"))
    assert (await placed.bye()).status == 200
    await asyncio.wait_for(at_bob.ended.wait(), 5)
    await world.settle(lambda: world.worker.active_calls == 0)
    await world.settle(lambda: len(world.details()) == 3)
    assert len({d["leg_id"] for d in world.details()}) == 3
    assert world.worker.b2bua.concurrent.active(account_id(world, "bob")) == 0


async def test_tr_c_busy_target_gives_a_final_486_and_the_call_stays_up(world):
    _, first, at_bob = await blind_setup(world, mode="busy")

    assert (await refer(first, f"<sip:carol@{DOMAIN}>")).status == 202

    record = await final_audit(world, "failed")
    assert record["final_status"] == 486
    await world.settle(lambda: notified(first)[-1:] == [486])
    assert notifies(first)[-1].headers.get("Subscription-State") == "terminated;reason=noresource"
    assert invites(at_bob) == []
    await still_talking(first, at_bob, sdp("alice-bob-2"))
    assert world.worker.active_calls == 1
    assert "transfer.failed" in transfer_kinds(world)


async def test_tr_c_premium_rate_target_is_blocked_audited_and_shown_live(world):
    world.directory.rules[1] = DestinationRules(denied_prefixes=frozenset({"0909"}))
    _, first, at_bob = await blind_setup(world)

    response = await refer(first, f"<sip:09091234567@{DOMAIN}>")

    assert response.status == 403
    assert "0909" in response.reason
    audit = world.events.transfer_audits[-1]
    assert (audit["decision"], audit["final_status"]) == ("rejected", 403)
    assert "0909" in audit["reason"]
    [decided] = [e for e in world.events.events if e.kind == "transfer.decided"]
    assert decided.data["status"] == 403 and decided.customer_id == 1
    await still_talking(first, at_bob, sdp("alice-bob-2"))


async def test_tr_c_transferors_bye_right_after_the_202_does_not_stop_the_transfer(world):
    carol, first, at_bob = await blind_setup(world, mode="ring")
    bob = at_bob.phone

    assert (await refer(first, f"<sip:carol@{DOMAIN}>")).status == 202
    assert (await first.bye()).status == 200

    placed = await asyncio.wait_for(carol.incoming.get(), 10)
    assert not at_bob.ended.is_set(), "the transferor's BYE ends only its own dialogue"
    placed.answer()
    record = await final_audit(world, "completed")
    assert record["final_status"] == 200
    assert notified(first) == [100]
    assert at_bob.remote_sdp == carol.answer_body
    await world.settle(lambda: placed.ack is not None and placed.ack.body == bob.answer_body)
    await still_talking(at_bob, placed, sdp("bob-2"))
    assert world.worker.active_calls == 1


async def test_tr_c_target_failing_after_the_transferor_left_hangs_the_transferee_up(world):
    carol, first, at_bob = await blind_setup(world, mode="ring")

    assert (await refer(first, f"<sip:carol@{DOMAIN}>")).status == 202
    assert (await first.bye()).status == 200
    placed = await asyncio.wait_for(carol.incoming.get(), 10)
    placed.final = placed.handle.reply(486, to_tag=placed.to_tag)

    await final_audit(world, "failed")
    await asyncio.wait_for(at_bob.ended.wait(), 5)
    await world.settle(lambda: world.worker.active_calls == 0)


async def test_tr_c_two_refers_in_one_dialogue_notify_with_their_own_ids(world):
    carol, first, at_bob = await blind_setup(world)
    await world.phone("dave", mode="busy")

    assert (await refer(first, f"<sip:dave@{DOMAIN}>")).status == 202
    first_id = first.dialog.local_seq
    await world.settle(lambda: notified(first)[-1:] == [486])
    assert (await refer(first, f"<sip:carol@{DOMAIN}>")).status == 202
    second_id = first.dialog.local_seq

    await asyncio.wait_for(first.ended.wait(), 10)
    events = [(n.headers.get("Event"), parse_sipfrag(n.body)[0]) for n in notifies(first)]
    assert events[0] == (f"refer;id={first_id}", 100)
    assert events[-1] == (f"refer;id={second_id}", 200)
    assert {e for e, _ in events} == {f"refer;id={first_id}", f"refer;id={second_id}"}
    assert [e for e, status in events if status == 486] == [f"refer;id={first_id}"]
    outcomes = [a["outcome"] for a in world.events.transfer_audits if a["outcome"] != "pending"]
    assert outcomes == ["failed", "completed"]
    assert at_bob.remote_sdp == carol.answer_body


async def test_tr_c_a_second_refer_while_the_first_runs_waits_with_491(world):
    carol, first, at_bob = await blind_setup(world, mode="ring")
    assert (await refer(first, f"<sip:carol@{DOMAIN}>")).status == 202
    placed = await asyncio.wait_for(carol.incoming.get(), 10)

    second = await refer(first, f"<sip:dave@{DOMAIN}>")

    assert (second.status, second.reason) == (491, "Another transfer of this call is in progress")
    placed.answer()
    await final_audit(world, "completed")
    assert talk(at_bob, placed)
    statuses = [(a["outcome"], a["final_status"]) for a in world.events.transfer_audits]
    assert ("rejected", 491) in statuses


async def test_tr_c_the_callee_transfers_the_caller(world):
    carol, first, at_bob = await blind_setup(world)
    alice = first.phone

    response = await at_bob.request("REFER", headers=[("Refer-To", f"<sip:carol@{DOMAIN}>")])

    assert response.status == 202
    placed = await asyncio.wait_for(carol.incoming.get(), 10)
    await asyncio.wait_for(at_bob.ended.wait(), 10)
    assert notified(at_bob) == [100, 180, 200]
    assert invites(first) == [carol.answer_body], "the caller's own dialogue is re-INVITEd"
    await world.settle(lambda: placed.ack is not None and placed.ack.body == alice.answer_body)
    assert talk(first, placed)
    record = await final_audit(world, "completed")
    assert record["transferor"] == f"<sip:bob@{DOMAIN}>"
    assert record["transferee"] == f"<sip:alice@{DOMAIN}>"
    await still_talking(placed, first, sdp("carol-2"))
    assert (await first.bye()).status == 200
    await asyncio.wait_for(placed.ended.wait(), 5)
    await world.settle(lambda: world.worker.active_calls == 0)


async def test_tr_c_a_transferee_refusing_the_reinvite_hangs_up_the_target_and_keeps_the_call(
    world,
):
    carol, first, at_bob = await blind_setup(world)
    at_bob.phone.reinvite_statuses = [488]

    assert (await refer(first, f"<sip:carol@{DOMAIN}>")).status == 202

    placed = await asyncio.wait_for(carol.incoming.get(), 10)
    await asyncio.wait_for(placed.ended.wait(), 10)
    assert placed.ack is not None and b"m=audio 0 " in placed.ack.body, "offer declined in ACK"
    record = await final_audit(world, "failed")
    assert record["final_status"] == 488
    await world.settle(lambda: notified(first)[-1:] == [488])
    assert talk(first, at_bob)
    await still_talking(first, at_bob, sdp("alice-bob-2"))
    await world.settle(lambda: world.worker.active_calls == 1)
    assert (await first.bye()).status == 200
    await world.settle(lambda: len(world.details()) == 3)
    assert len({d["leg_id"] for d in world.details()}) == 3


async def test_tr_c_the_transferee_hanging_up_while_the_target_rings_cancels_the_target(world):
    carol, first, at_bob = await blind_setup(world, mode="ring")
    assert (await refer(first, f"<sip:carol@{DOMAIN}>")).status == 202
    placed = await asyncio.wait_for(carol.incoming.get(), 10)

    assert (await at_bob.bye()).status == 200

    await asyncio.wait_for(placed.cancelled.wait(), 5)
    await asyncio.wait_for(first.ended.wait(), 5)
    record = await final_audit(world, "failed")
    assert record["final_status"] == 487
    await world.settle(lambda: world.worker.active_calls == 0)


async def test_tr_c_the_answered_limit_of_the_transfer_dialplan_applies_to_the_new_pair(world):
    use_policy(world, "c", "bob")
    world.directory.add_dialplan(1, "transfer", 'sys.Dial("${dst}@local[cd=1]")\n')
    carol, first, at_bob = await alice_talks_to_bob(world)

    assert (await refer(first, f"<sip:carol@{DOMAIN}>")).status == 202

    placed = await asyncio.wait_for(carol.incoming.get(), 10)
    await final_audit(world, "completed")
    await asyncio.wait_for(placed.ended.wait(), 5)
    await asyncio.wait_for(at_bob.ended.wait(), 5)
    details = {d["call_id"]: d for d in world.details()}
    assert details[placed.invite.call_id]["hangup_reason"] == "answered call limit reached"


async def test_an_attended_transfer_to_a_target_that_placed_the_consultation_call(world):
    use_policy(world, "p", "alice", "bob")
    bob, carol = await world.phone("bob"), await world.phone("carol")
    alice = await world.phone("alice")
    first, at_bob = await talking(world, alice, bob, sdp("alice-bob"))
    carol.answer_body = sdp("carol-alice")  # a phone keeps its own session in re-INVITEs
    from_carol, at_alice = await talking(world, carol, alice, carol.answer_body)

    assert (await refer(first, replaces_uri(at_alice))).status == 202

    await asyncio.wait_for(first.ended.wait(), 5)
    await asyncio.wait_for(at_alice.ended.wait(), 5)
    assert invites(at_bob) == [sdp("carol-alice")], "carol's own offer is her session"
    assert talk(at_bob, from_carol)
    await still_talking(from_carol, at_bob, sdp("carol-2"))
    assert (await from_carol.bye()).status == 200
    await asyncio.wait_for(at_bob.ended.wait(), 5)
    await world.settle(lambda: world.worker.active_calls == 0)
    await world.settle(lambda: len(world.details()) == 4)
    details = world.details()
    assert len({d["leg_id"] for d in details}) == 4, "every leg recorded exactly once"
    carol_leg = next(d for d in details if d["call_id"] == from_carol.invite.call_id)
    assert carol_leg["hangup_reason"] == "BYE from callee"


async def test_an_attended_transfer_with_refer_sub_false_completes_without_notifies(world):
    first, at_bob, consult, at_carol = await attended_setup(world)

    response = await first.request(
        "REFER", headers=[("Refer-To", replaces_uri(consult)), ("Refer-Sub", "false")]
    )

    assert response.status == 202 and response.headers.get("Refer-Sub") == "false"
    await asyncio.wait_for(first.ended.wait(), 5)
    await asyncio.wait_for(consult.ended.wait(), 5)
    assert not notifies(first)
    assert talk(at_bob, at_carol)
    record = await final_audit(world, "completed")
    assert record["notify_statuses"] == []
