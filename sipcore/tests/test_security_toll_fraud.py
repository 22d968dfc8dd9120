"""Toll-fraud controls under attack patterns, through a running SipWorker on loopback.

The attacker holds one account's password (the usual start of toll fraud) and tries to make
money with it at once:

* a burst of parallel calls to premium-rate numbers (the platform's pre-filled list, from the
  ``0002_premium_rate_prefixes`` migration) in every dialling form: every one is refused with
  403 and shown live as ``call.blocked``, each has its call detail record, the provider's
  trunk never sees an INVITE, and the account is not locked as if its password were being
  guessed (its phones keep working: an ordinary call right after goes through);
* a burst of parallel INVITEs past the account's concurrent-call limit and past the
  customer's calls-per-minute limit: exactly the limit gets through, the rest get 503;
* a transfer storm, many REFERs at once on a call: under ``tr=n`` every one is declined (603)
  with one audit record each; under ``tr=c`` to premium-rate targets every one is refused
  (403) before anything is accepted (no 202, no NOTIFY), with one audit record each, and the
  trunk never sees an INVITE.
"""

from __future__ import annotations

import asyncio
import importlib

import pytest

from sipcore.directory import TransferPolicy
from sipcore.memory_directory import customer
from sipcore.message import Request, Response
from sipcore.policy import DestinationRules
from sipcore.security import Subject
from sipcore.tests.phones import DOMAIN, Phone, PhoneCall, World, running_world, sdp
from sipcore.tests.test_transfer_b2bua import connected as alice_calls_bob

PREMIUM_RATE_PREFIXES = importlib.import_module(
    "sipplatform.dialplans.migrations.0002_premium_rate_prefixes"
).PREMIUM_RATE_PREFIXES

PREMIUM_NUMBERS = [
    "+449091234567",
    "00449081234567",
    "09061234567",
    "0871-123-4567",
    "+1-900-555-0100",
    "0019765550100",
    "+61190123456",
    "+870772123456",
    "+881612345678",
    "+882161234567",
    "+883140012345",
    "+979123456789",
    "07012345678",
    "(+44)70.1234.5678",
]
BURST = 42  # three rounds of every form
TRUNK_ID = 7


@pytest.fixture
async def trunk():
    """The customer's provider: a phone that answers every call it is sent."""
    phone = await Phone.start(user="carrier", domain="provider.test")
    yield phone
    await phone.close()


@pytest.fixture
async def world(trunk):
    async with running_world() as world:
        owner = customer(1, max_concurrent_executions=BURST + 8)
        world.add_account("alice", customer=owner, outgoing_dialplan="out")
        world.add_account("bob", customer=owner)
        world.directory.platform_rules = DestinationRules(
            denied_prefixes=frozenset(PREMIUM_RATE_PREFIXES)
        )
        world.add_trunk(TRUNK_ID, trunk.local.hostport)
        world.directory.add_dialplan(1, "out", 'sys.Dial("${dst}@trunk")')
        world.directory.add_dialplan(1, "transfer", 'sys.Dial("${dst}@trunk")')
        yield world


def invites(phone: Phone) -> list[Request]:
    return [r for r in phone.requests if r.method == "INVITE"]


def finals(calls: list[PhoneCall]) -> list[int]:
    return sorted(call.final.status for call in calls if call.final is not None)


async def test_a_burst_of_premium_rate_calls_is_refused_before_any_invite_leaves(world, trunk):
    alice = await world.phone("alice", register=False)
    numbers = [PREMIUM_NUMBERS[i % len(PREMIUM_NUMBERS)] for i in range(BURST)]
    calls = await asyncio.gather(*(alice.call(f"sip:{n}@{DOMAIN}") for n in numbers))
    assert finals(calls) == [403] * BURST
    assert {call.final.reason for call in calls} == {"Destination blocked by policy"}
    assert not world.worker.security.gate.is_banned(
        Subject.account("alice", DOMAIN), world.worker.clock()
    )  # refused calls are no failed passwords: the account is not locked
    assert invites(trunk) == []
    await world.settle(lambda: world.events.kinds().count("call.blocked") == BURST)
    blocked = {
        e.data["destination"].split("@")[0] for e in world.events.events if e.kind == "call.blocked"
    }
    assert blocked == set(PREMIUM_NUMBERS)
    assert [d for d in world.details() if d.get("provider_id") == TRUNK_ID] == []
    recorded = [d for d in world.details() if d["direction"] == "in"]  # one record per attempt
    assert len(recorded) == BURST
    assert {d["hangup_reason"] for d in recorded} == {"403 Destination blocked by policy"}
    control = await alice.call(f"sip:5551234@{DOMAIN}")  # the trunk itself works
    assert control.final is not None and control.final.status == 200
    assert [r.uri.user for r in invites(trunk)] == ["5551234"]
    await control.bye()


async def test_the_concurrent_call_limit_of_an_account_holds_under_a_burst(world, trunk):
    world.change_account("alice", max_concurrent_calls=3)
    trunk.mode = "ring"
    alice = await world.phone("alice", register=False)
    calls = [await alice.call(f"sip:55512{i:02}@{DOMAIN}", wait=False) for i in range(20)]
    await world.settle(lambda: sum(c.final is not None for c in calls) >= 17)
    await world.settle(lambda: sum(c.ringing.is_set() for c in calls) >= 3)
    await asyncio.sleep(0.3)  # nothing more arrives
    refused = [c for c in calls if c.final is not None]
    assert [c.final.status for c in refused] == [503] * 17
    assert len(invites(trunk)) == 3
    assert world.worker.active_calls == 3
    ringing = [c for c in calls if c.final is None]
    for call in ringing:
        await call.cancel()
    await asyncio.gather(*(c.task for c in ringing))
    await world.settle(lambda: world.worker.active_calls == 0)
    again = await alice.call(f"sip:5559999@{DOMAIN}", wait=False)
    await asyncio.wait_for(again.ringing.wait(), 5)  # the slots came back
    await again.cancel()
    await again.task


async def test_the_call_rate_limit_of_a_customer_holds_under_a_burst(world, trunk):
    limited = customer(1, max_calls_per_minute=5, max_concurrent_executions=BURST + 8)
    world.change_account("alice", customer=limited)
    alice = await world.phone("alice", register=False)
    calls = await asyncio.gather(*(alice.call(f"sip:55513{i:02}@{DOMAIN}") for i in range(20)))
    assert finals(calls) == [200] * 5 + [503] * 15
    assert len(invites(trunk)) == 5
    for call in calls:
        if call.final is not None and call.final.status == 200:
            await call.bye()


async def connected(world: World, policy: str) -> tuple[PhoneCall, PhoneCall]:
    """alice calls bob, both accounts with the transfer policy ``policy``; both ends once up."""
    world.change_account("alice", transfer_policy=TransferPolicy(value=policy, source="account"))
    return await alice_calls_bob(world, policy)


async def refer_storm(call: PhoneCall, targets: list[str]) -> list[Response]:
    """One REFER per target in ``call``'s dialogue, all in flight at once (built first, so
    their CSeqs leave in order)."""
    assert call.dialog is not None
    requests = [
        call.dialog.create_request("REFER", headers=[("Refer-To", f"<{target}>")])
        for target in targets
    ]
    return list(
        await asyncio.gather(*(call.phone.endpoint.send_request(r, call.peer) for r in requests))
    )


async def the_call_is_still_up(world: World, call: PhoneCall, incoming: PhoneCall) -> None:
    reinvite = await call.reinvite(sdp("alice-2"))
    assert reinvite.status == 200 and reinvite.body == incoming.phone.answer_body
    assert world.worker.active_calls == 1


async def test_a_transfer_storm_under_tr_n_is_declined_with_one_audit_record_each(world, trunk):
    world.directory.add_dialplan(1, "out", 'sys.Dial("bob@local")')
    call, incoming = await connected(world, "n")
    targets = [f"sip:{n}@{DOMAIN}" for n in PREMIUM_NUMBERS] + [
        f"sip:carol{i}@{DOMAIN}" for i in range(16)
    ]
    from_alice, from_bob = await asyncio.gather(
        refer_storm(call, targets), refer_storm(incoming, targets)
    )
    responses = from_alice + from_bob
    assert {(r.status, r.reason) for r in responses} == {
        (603, "Transfers are disabled on this call")
    }
    assert len(responses) == 2 * len(targets)
    await world.settle(lambda: len(world.events.transfer_audits) == len(responses))
    audits = world.events.transfer_audits
    assert {(a["decision"], a["final_status"]) for a in audits} == {("rejected", 603)}
    assert sorted(a["refer_to"] for a in audits) == sorted(f"<{t}>" for t in targets * 2)
    assert not [r for r in call.requests + incoming.requests if r.method in ("REFER", "NOTIFY")]
    assert invites(trunk) == []
    await the_call_is_still_up(world, call, incoming)


async def test_a_transfer_storm_under_tr_c_to_premium_targets_is_refused_before_acceptance(
    world, trunk
):
    world.directory.add_dialplan(1, "out", 'sys.Dial("bob@local")')
    call, incoming = await connected(world, "c")
    targets = [f"sip:{n}@{DOMAIN}" for n in PREMIUM_NUMBERS] * 2
    responses = await refer_storm(call, targets)
    assert [r.status for r in responses] == [403] * len(targets), [
        (r.status, r.reason) for r in responses
    ]
    assert all("denied prefix" in r.reason for r in responses), {r.reason for r in responses}
    await world.settle(lambda: len(world.events.transfer_audits) == len(targets))
    audits = world.events.transfer_audits
    assert {(a["decision"], a["final_status"]) for a in audits} == {("rejected", 403)}
    assert all(a["policy"] == "c" for a in audits)
    assert not [r for r in call.requests if r.method == "NOTIFY"]  # nothing was accepted
    assert not [r for r in incoming.requests if r.method in ("REFER", "INVITE", "BYE")]
    assert invites(trunk) == []
    await the_call_is_still_up(world, call, incoming)
