"""Transfers driven by hand-made messages from scriptable sipcore phones through a running
SipWorker: every RFC 3891 rejection of an attended REFER, an attended transfer's exact
re-INVITEs, ``Refer-Sub: false`` (RFC 4488), the transferor's BYE right after the 202, and
two REFERs in one dialogue with their own ``id``s.

alice calls bob and bob is the transferor throughout: calls between accounts belong to the
called account, so bob's policy (``c``) is the one on alice's call. "Talking" is judged
from each phone's side: the session description it last received from the other.
"""

import asyncio
from urllib.parse import quote

import pytest

from sipcore.message import Request, Response
from sipcore.policy import DestinationRules
from sipcore.tests.phones import DOMAIN, Phone, PhoneCall, World, running_world, sdp
from sipcore.tests.transfer_e2e import (
    PREMIUM_PREFIXES,
    add_transfer_dialplan,
    final_audit,
    phone_notifies,
    transfer_events,
    transfer_kinds,
    use_policy,
)
from sipcore.transfer.subscription import parse_sipfrag

pytestmark = pytest.mark.real

USERS = ("alice", "bob", "carol", "dave", "erin")


@pytest.fixture
async def world():
    async with running_world() as world:
        for user in USERS:
            world.add_account(user)
        use_policy(world, "c", *USERS)
        add_transfer_dialplan(world)
        yield world


async def refer(call: PhoneCall, refer_to: str, *headers: tuple[str, str]) -> Response:
    """A REFER in ``call``'s dialogue, the way a phone writes it."""
    assert call.dialog is not None
    request = call.dialog.create_request(
        "REFER",
        headers=[
            ("Refer-To", refer_to),
            ("Referred-By", f"<sip:{call.phone.user}@{DOMAIN}>"),
            *headers,
        ],
    )
    return await call.phone.endpoint.send_request(request, call.peer)


def replaces(call: PhoneCall, *extra: str) -> str:
    """The escaped Replaces naming ``call``'s dialogue as its phone sees it (RFC 3891 §3:
    to-tag is the far side's tag, from-tag the phone's own)."""
    assert call.dialog is not None
    dialog_id = call.dialog.id
    value = ";".join(
        [
            dialog_id.call_id,
            f"to-tag={dialog_id.remote_tag}",
            f"from-tag={dialog_id.local_tag}",
            *extra,
        ]
    )
    return quote(value, safe="")


async def talking(world: World, caller: Phone, callee: Phone) -> tuple[PhoneCall, PhoneCall]:
    """``caller`` calls ``callee``; both sides of the call once it is answered and acked."""
    call = await caller.call(f"sip:{callee.user}@{DOMAIN}")
    assert call.final is not None and call.final.status == 200, call.final
    incoming = await asyncio.wait_for(callee.incoming.get(), 5)
    await asyncio.wait_for(incoming.acked.wait(), 5)
    return call, incoming


def reinvites(call: PhoneCall) -> list[Request]:
    return [r for r in call.requests if r.method == "INVITE"]


async def notified(call: PhoneCall, final_count: int = 1, timeout: float = 15.0) -> list:
    """(Event, sipfrag status, Subscription-State) of the NOTIFYs ``call`` received, once
    ``final_count`` terminated ones arrived."""

    def views() -> list[tuple[str, int, str]]:
        return [
            (
                n.headers.get("Event") or "",
                (parse_sipfrag(n.body) or (0, ""))[0],
                n.headers.get("Subscription-State") or "",
            )
            for n in phone_notifies(call)
        ]

    async with asyncio.timeout(timeout):
        while sum(1 for v in views() if v[2].startswith("terminated")) < final_count:
            await asyncio.sleep(0.02)
    return views()


# RFC 3891: what may not be replaced ----------------------------------------------------------


@pytest.fixture
async def consulted(world):
    """alice talks to bob (call 1, bob holds it); bob talks to carol (his consultation)."""
    alice, bob, carol = [await world.phone(user) for user in ("alice", "bob", "carol")]
    alice_call, bob_call = await talking(world, alice, bob)
    consultation, carol_call = await talking(world, bob, carol)
    return {
        "alice": alice_call,
        "bob": bob_call,
        "consultation": consultation,
        "carol": carol_call,
    }


async def refused(world, calls, refer_to: str, status: int, reason_part: str) -> dict:
    """bob's attended REFER is refused with ``status`` before anything is accepted, and
    nothing changed: no NOTIFY, nobody re-INVITEd, both calls still up."""
    response = await refer(calls["bob"], refer_to)
    assert response.status == status, (response.status, response.reason)
    assert reason_part in response.reason
    record = await final_audit(world)
    await asyncio.sleep(0.3)
    assert not phone_notifies(calls["bob"])
    assert not reinvites(calls["alice"]) and not reinvites(calls["carol"])
    still = await calls["alice"].reinvite(sdp("alice-again"))
    assert (still.status, still.body) == (200, calls["bob"].phone.answer_body)
    assert (record["kind"], record["decision"]) == ("attended", "rejected")
    assert (record["final_status"], record["outcome"]) == (status, "rejected")
    assert transfer_kinds(world) == ["transfer.requested", "transfer.decided"]
    [decided] = transfer_events(world, "transfer.decided")
    assert decided["status"] == status
    return record


async def test_replaces_naming_no_dialogue_gets_481(world, consulted):
    target = f"<sip:carol@{DOMAIN}?Replaces=nosuchcall%3Bto-tag%3Dx1%3Bfrom-tag%3Dy1>"
    await refused(world, consulted, target, 481, "does not exist")


async def test_replaces_naming_a_dialogue_that_just_ended_gets_603(world, consulted):
    assert (await consulted["consultation"].bye()).status == 200
    target = f"<sip:carol@{DOMAIN}?Replaces={replaces(consulted['consultation'])}>"
    response = await refer(consulted["bob"], target)
    assert (response.status, response.reason) == (603, "Replaced dialogue has ended")
    record = await final_audit(world)
    assert (record["final_status"], record["decision"]) == (603, "rejected")
    assert not reinvites(consulted["alice"])


async def test_early_only_naming_an_answered_dialogue_gets_486(world, consulted):
    early_only = replaces(consulted["consultation"], "early-only")
    await refused(world, consulted, f"<sip:carol@{DOMAIN}?Replaces={early_only}>", 486, "")


async def test_replaces_naming_the_refers_own_dialogue_gets_400(world, consulted):
    own = replaces(consulted["bob"])
    await refused(world, consulted, f"<sip:alice@{DOMAIN}?Replaces={own}>", 400, "own dialogue")


async def test_two_replaces_in_one_refer_to_get_400(world, consulted):
    one = replaces(consulted["consultation"])
    target = f"<sip:carol@{DOMAIN}?Replaces={one}&Replaces={one}>"
    await refused(world, consulted, target, 400, "More than one Replaces")


async def test_replaces_naming_someone_elses_dialogue_gets_403(world, consulted):
    dave, erin = await world.phone("dave"), await world.phone("erin")
    _, erin_call = await talking(world, dave, erin)
    theirs = replaces(erin_call)
    await refused(world, consulted, f"<sip:dave@{DOMAIN}?Replaces={theirs}>", 403, "another")
    assert not reinvites(erin_call)


async def test_attended_transfer_re_bridges_the_far_ends_one_offer_at_a_time(world, consulted):
    target = f"<sip:carol@{DOMAIN}?Replaces={replaces(consulted['consultation'])}>"
    response = await refer(consulted["bob"], target)
    assert response.status == 202, (response.status, response.reason)
    notifies = await notified(consulted["bob"])
    alice_call, carol_call = consulted["alice"], consulted["carol"]
    alice, carol = alice_call.phone, carol_call.phone
    await world.settle(lambda: carol_call.remote_sdp == alice.answer_body, timeout=10)
    assert alice_call.remote_sdp == carol.answer_body
    [to_alice] = reinvites(alice_call)
    [to_carol] = reinvites(carol_call)
    assert to_alice.body == carol.answer_body and to_carol.body == alice.answer_body
    await asyncio.wait_for(consulted["bob"].ended.wait(), 10)
    await asyncio.wait_for(consulted["consultation"].ended.wait(), 10)
    assert not alice_call.ended.is_set() and not carol_call.ended.is_set()
    assert [status for _, status, _ in notifies] == [100, 200]
    record = await final_audit(world)
    assert (record["kind"], record["outcome"], record["notify_statuses"]) == (
        "attended",
        "completed",
        [100, 200],
    )
    assert (await alice_call.bye()).status == 200
    await asyncio.wait_for(carol_call.ended.wait(), 10)


# blind transfers (tr=c) with hand-made REFERs --------------------------------------------------


@pytest.fixture
async def blind(world):
    """alice talks to bob; carol answers after a short ring."""
    alice, bob = await world.phone("alice"), await world.phone("bob")
    carol = await world.phone("carol", ring_delay=0.3)
    alice_call, bob_call = await talking(world, alice, bob)
    return alice_call, bob_call, carol


async def transferee_moved_to(world, alice_call: PhoneCall, target: Phone) -> PhoneCall:
    """alice ends up talking to ``target``: she holds its offer, it holds her answer."""
    target_call = await asyncio.wait_for(target.incoming.get(), 10)
    assert target_call.invite.body == b"", "RFC 3725: the target is invited without an offer"
    assert target_call.invite.headers.get("Referred-By") == f"<sip:bob@{DOMAIN}>"
    await asyncio.wait_for(target_call.acked.wait(), 10)
    await world.settle(lambda: alice_call.remote_sdp == target.answer_body, timeout=10)
    assert target_call.ack is not None
    assert target_call.ack.body == alice_call.phone.answer_body
    return target_call


async def test_refer_sub_false_gets_no_notify_and_the_transfer_completes(world, blind):
    alice_call, bob_call, carol = blind
    response = await refer(bob_call, f"<sip:carol@{DOMAIN}>", ("Refer-Sub", "false"))
    assert response.status == 202, (response.status, response.reason)
    assert response.headers.get("Refer-Sub") == "false"
    await transferee_moved_to(world, alice_call, carol)
    record = await final_audit(world)
    await asyncio.wait_for(bob_call.ended.wait(), 10)
    assert not phone_notifies(bob_call)
    assert (record["outcome"], record["notify_statuses"]) == ("completed", [])


async def test_the_transferors_bye_right_after_the_202_does_not_stop_the_transfer(world, blind):
    alice_call, bob_call, carol = blind
    response = await refer(bob_call, f"<sip:carol@{DOMAIN}>")
    assert response.status == 202, (response.status, response.reason)
    assert (await bob_call.bye()).status == 200
    after_bye = len(phone_notifies(bob_call))
    await transferee_moved_to(world, alice_call, carol)
    record = await final_audit(world)
    assert (record["outcome"], record["final_status"]) == ("completed", 200)
    await asyncio.sleep(0.5)
    assert len(phone_notifies(bob_call)) == after_bye, "no NOTIFY after the transferor's BYE"
    assert not alice_call.ended.is_set()
    assert transfer_kinds(world)[-1] == "transfer.completed"


async def test_two_refers_in_one_dialogue_are_notified_with_their_own_ids(world, blind):
    alice_call, bob_call, carol = blind
    carol.mode = "busy"
    dave = await world.phone("dave")
    first = await refer(bob_call, f"<sip:carol@{DOMAIN}>")
    first_id = bob_call.dialog.local_seq
    assert first.status == 202, (first.status, first.reason)
    busy = await notified(bob_call, 1)
    second = await refer(bob_call, f"<sip:dave@{DOMAIN}>")
    second_id = bob_call.dialog.local_seq
    assert second.status == 202, (second.status, second.reason)
    await transferee_moved_to(world, alice_call, dave)
    both = await notified(bob_call, 2)
    assert first_id != second_id
    assert {event for event, _, _ in busy} == {f"refer;id={first_id}"}
    assert [status for _, status, _ in busy] == [100, 180, 486]
    assert busy[-1][2].startswith("terminated")
    later = both[len(busy) :]
    assert {event for event, _, _ in later} == {f"refer;id={second_id}"}
    assert later[0][1] == 100 and later[-1][1] == 200
    outcomes = [
        (a["outcome"], a["final_status"])
        for a in world.events.transfer_audits
        if a["outcome"] != "pending"
    ]
    assert outcomes == [("failed", 486), ("completed", 200)]


async def test_a_premium_number_the_transfer_dialplan_dials_is_blocked_and_the_call_stays_up(
    world, blind
):
    world.directory.platform_rules = DestinationRules(denied_prefixes=PREMIUM_PREFIXES)
    world.directory.add_dialplan(1, "transfer", 'sys.Dial("00449091234567@trunk")\n')
    alice_call, bob_call, _ = blind
    response = await refer(bob_call, f"<sip:helpdesk@{DOMAIN}>")
    assert response.status == 202, (response.status, response.reason)
    notifies = await notified(bob_call)
    assert [status for _, status, _ in notifies] == [100, 403]
    record = await final_audit(world)
    assert (record["outcome"], record["final_status"]) == ("failed", 403)
    [blocked] = [e for e in world.events.events if e.kind == "call.blocked"]
    assert blocked.customer_id == 1 and "449091234567" in str(blocked.data)
    assert not reinvites(alice_call) and not bob_call.ended.is_set()
    still = await alice_call.reinvite(sdp("alice-again"))
    assert (still.status, still.body) == (200, bob_call.phone.answer_body)


async def test_the_transferee_hanging_up_while_the_target_rings_cancels_the_target(world, blind):
    alice_call, bob_call, carol = blind
    carol.mode = "ring"
    response = await refer(bob_call, f"<sip:carol@{DOMAIN}>")
    assert response.status == 202, (response.status, response.reason)
    ringing = await asyncio.wait_for(carol.incoming.get(), 10)
    assert (await alice_call.bye()).status == 200
    await asyncio.wait_for(ringing.cancelled.wait(), 10)
    record = await final_audit(world)
    assert (record["outcome"], record["final_status"]) == ("failed", 487)
    await asyncio.wait_for(bob_call.ended.wait(), 10)
    assert not ringing.answered.is_set()
