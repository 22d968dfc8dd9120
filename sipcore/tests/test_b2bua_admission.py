"""Who may call: digest for our own accounts, refusals and limits, each with its status."""

import asyncio

import pytest

from sipcore.memory_directory import customer
from sipcore.policy import DestinationRules
from sipcore.tests.phones import DOMAIN, running_world


@pytest.fixture
async def world():
    async with running_world() as world:
        world.add_account("alice")
        world.add_account("bob")
        world.directory.add_dialplan(1, "out", 'sys.Dial("bob@local")')
        world.change_account("alice", outgoing_dialplan="out")
        yield world


async def test_calls_from_our_accounts_are_challenged_with_407(world):
    await world.phone("bob")
    alice = await world.phone("alice")
    call = await alice.call("sip:anyone@example.test")
    assert call.final.status == 200
    assert call.invite.headers.get("Proxy-Authorization") is not None
    await call.bye()


async def test_unknown_account_gets_403_after_the_challenge(world):
    mallory = await world.phone("mallory", register=False)
    call = await mallory.call(f"sip:bob@{DOMAIN}")
    assert call.final.status == 403
    assert call.invite.headers.get("Proxy-Authorization") is not None


async def test_wrong_password_gets_the_same_403(world):
    alice = await world.phone("alice", register=False, password="wrong")
    call = await alice.call(f"sip:bob@{DOMAIN}")
    assert (call.final.status, call.final.reason) == (403, "Forbidden")


async def test_disabled_account_cannot_call(world):
    alice = await world.phone("alice", register=False)
    world.change_account("alice", disabled=True)
    assert (await alice.call(f"sip:bob@{DOMAIN}")).final.status == 403


async def test_incoming_only_account_cannot_call_out(world):
    alice = await world.phone("alice", register=False)
    world.change_account("alice", incoming_only=True)
    call = await alice.call(f"sip:bob@{DOMAIN}")
    assert (call.final.status, call.final.reason) == (403, "Account may only receive calls")


async def test_suspended_customer_cannot_call(world):
    alice = await world.phone("alice", register=False)
    world.change_account("alice", customer=customer(1, suspended=True))
    call = await alice.call(f"sip:bob@{DOMAIN}")
    assert (call.final.status, call.final.reason) == (403, "Customer suspended")


async def test_ip_allow_list_applies_to_calls(world):
    alice = await world.phone("alice", register=False)
    world.change_account("alice", ip_allow_list=("192.0.2.0/24",))
    assert (await alice.call(f"sip:bob@{DOMAIN}")).final.status == 403


async def test_account_without_outgoing_dialplan_calling_out_gets_480(world):
    world.change_account("alice", outgoing_dialplan=None)
    alice = await world.phone("alice", register=False)
    call = await alice.call("sip:12345@elsewhere.test")
    assert call.final.status == 480


async def test_concurrent_call_limit_of_the_account(world):
    world.change_account("alice", max_concurrent_calls=1)
    await world.phone("bob")
    alice = await world.phone("alice", register=False)
    first = await alice.call(f"sip:bob@{DOMAIN}")
    assert first.final.status == 200
    second = await alice.call(f"sip:bob@{DOMAIN}")
    assert second.final.status == 503
    await first.bye()
    await world.settle(lambda: world.worker.active_calls == 0)
    third = await alice.call(f"sip:bob@{DOMAIN}")
    assert third.final.status == 200
    await third.bye()


async def test_calls_per_minute_of_the_customer(world):
    world.change_account("alice", customer=customer(1, max_calls_per_minute=1))
    await world.phone("bob")
    alice = await world.phone("alice", register=False)
    first = await alice.call(f"sip:bob@{DOMAIN}")
    await first.bye()
    second = await alice.call(f"sip:bob@{DOMAIN}")
    assert second.final.status == 503


async def test_customer_dialplan_execution_limit_gives_480(world):
    limited = customer(1, max_concurrent_executions=1)
    world.change_account("alice", customer=limited)
    await world.phone("bob", mode="ring")
    alice = await world.phone("alice", register=False)
    first = await alice.call("sip:x@example.test", wait=False)
    await asyncio.wait_for(first.ringing.wait(), 5)
    second = await alice.call("sip:y@example.test")
    assert second.final.status == 480
    await first.cancel()
    await asyncio.wait_for(first.task, 5)


async def test_destination_policy_blocks_before_any_invite_leaves(world):
    world.directory.rules[1] = DestinationRules(denied_prefixes=frozenset({"900"}))
    world.directory.add_dialplan(
        1, "out", 'r = sys.Dial("sip:${dst}@127.0.0.1:9")\nsys.Log("dial " + r)'
    )
    alice = await world.phone("alice", register=False)
    call = await alice.call("sip:900123@example.test")
    assert call.final.status == 403
    assert "call.blocked" in world.events.kinds()
    logs = [e.data["text"] for e in world.events.events if e.kind == "dialplan.log"]
    assert "dial Blocked" in logs
    legs = [d for d in world.details() if d["direction"] == "out"]
    assert legs == []
