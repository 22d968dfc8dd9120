"""Forking: parallel and sequential legs, first answer wins, CANCEL, late answers, delays."""

import asyncio

import pytest

from sipcore.b2bua.forking import failure_result
from sipcore.message import Response, reason_phrase
from sipcore.tests.phones import DOMAIN, running_world


@pytest.fixture
async def world():
    async with running_world() as world:
        for user in ("alice", "bob", "carol", "dave"):
            world.add_account(user)
        yield world


def dials(world, script: str) -> None:
    world.directory.add_dialplan(1, "out", script)
    world.change_account("alice", outgoing_dialplan="out")


@pytest.mark.parametrize("transport", ["udp", "tcp"])
async def test_parallel_first_answer_wins_and_the_other_leg_is_cancelled(world, transport):
    dials(world, 'sys.Dial("bob@local&carol@local")')
    bob = await world.phone("bob", transport, mode="ring")
    carol = await world.phone("carol", transport, ring_delay=0.1)
    alice = await world.phone("alice", transport)
    call = await alice.call("sip:team@example.test")
    assert call.final.status == 200
    assert call.final.body == carol.answer_body
    ringing = await bob.incoming.get()
    await asyncio.wait_for(ringing.cancelled.wait(), 5)
    assert ringing.final.status == 487
    await call.bye()
    await world.settle(lambda: len(world.details()) == 3)
    by_destination = {d["destination"]: d for d in world.details()}
    assert by_destination["bob@local"]["answered_status"] == 487
    assert by_destination["carol@local"]["answered_status"] == 200


async def test_sequential_failover_first_busy_second_answers(world):
    dials(world, 'sys.Dial("bob@local|carol@local")')
    bob = await world.phone("bob", mode="busy")
    carol = await world.phone("carol")
    alice = await world.phone("alice")
    call = await alice.call("sip:team@example.test")
    assert call.final.status == 200
    assert (await bob.incoming.get()).final.status == 486
    assert (await carol.incoming.get()).answered.is_set()
    await call.bye()


async def test_sequential_group_waits_for_every_leg_of_the_first_group(world):
    dials(world, 'sys.Dial("bob@local&carol@local|dave@local")')
    await world.phone("bob", mode="busy")
    await world.phone("carol", mode="reject", reject_status=480)
    dave = await world.phone("dave")
    alice = await world.phone("alice")
    call = await alice.call("sip:team@example.test")
    assert call.final.status == 200
    assert dave.incoming.qsize() == 1


async def test_every_leg_failing_maps_the_best_failure_back(world):
    dials(world, 'sys.Dial("bob@local&carol@local")')
    await world.phone("bob", mode="busy")
    await world.phone("carol", mode="reject", reject_status=480)
    alice = await world.phone("alice")
    call = await alice.call("sip:team@example.test")
    assert call.final.status == 486


async def test_a_late_answer_after_cancel_gets_ack_and_bye(world):
    dials(world, 'sys.Dial("bob@local&carol@local")')
    bob = await world.phone("bob", mode="ring", ignore_cancel=True)
    carol = await world.phone("carol", ring_delay=0.1)
    alice = await world.phone("alice")
    call = await alice.call("sip:team@example.test")
    assert call.final.body == carol.answer_body
    late = await bob.incoming.get()
    await world.settle(lambda: any(r.method == "CANCEL" for r in bob.requests))
    late.answer()
    await asyncio.wait_for(late.acked.wait(), 5)
    await asyncio.wait_for(late.ended.wait(), 5)
    assert [r.method for r in late.requests] == ["BYE"]
    await call.bye()


async def test_all_registered_contacts_of_an_account_ring(world):
    first = await world.phone("bob", mode="ring")
    second = await world.phone("bob", ring_delay=0.1)
    alice = await world.phone("alice")
    call = await alice.call(f"sip:bob@{DOMAIN}")
    assert call.final.body == second.answer_body
    await asyncio.wait_for((await first.incoming.get()).cancelled.wait(), 5)
    await call.bye()


async def test_caller_cancel_cancels_every_ringing_leg(world):
    dials(world, 'sys.Dial("bob@local&carol@local")')
    bob = await world.phone("bob", mode="ring")
    carol = await world.phone("carol", mode="ring")
    alice = await world.phone("alice")
    call = await alice.call("sip:team@example.test", wait=False)
    await asyncio.wait_for(call.ringing.wait(), 5)
    legs = [await bob.incoming.get(), await carol.incoming.get()]
    await call.cancel()
    await asyncio.wait_for(call.task, 5)
    assert call.final.status == 487
    for leg in legs:
        await asyncio.wait_for(leg.cancelled.wait(), 5)


async def test_ring_timeout_gives_up_and_the_script_goes_on(world):
    dials(world, 'r = sys.Dial("bob@local", 1)\nsys.Log("result " + r)\nsys.Respond(486, "Nope")')
    bob = await world.phone("bob", mode="ring")
    alice = await world.phone("alice")
    call = await alice.call("sip:x@example.test")
    assert (call.final.status, call.final.reason) == (486, "Nope")
    assert (await bob.incoming.get()).cancelled.is_set()
    logs = [e.data["text"] for e in world.events.events if e.kind == "dialplan.log"]
    assert "result NoAnswer" in logs


async def test_delayed_leg_starts_later_and_never_starts_once_another_answered(world):
    dials(world, 'sys.Dial("bob@local&carol@local[dt=5]")')
    await world.phone("bob")
    carol = await world.phone("carol")
    alice = await world.phone("alice")
    call = await alice.call("sip:x@example.test")
    assert call.final.status == 200
    await asyncio.sleep(0.2)
    assert carol.incoming.qsize() == 0
    await call.bye()


async def test_a_delayed_leg_rings_after_its_delay(world):
    dials(world, 'sys.Dial("bob@local[dt=1]")')
    bob = await world.phone("bob")
    alice = await world.phone("alice")
    started = asyncio.get_running_loop().time()
    call = await alice.call("sip:x@example.test", wait=False)
    await bob.incoming.get()
    assert asyncio.get_running_loop().time() - started >= 1.0
    await asyncio.wait_for(call.task, 5)
    assert call.final.status == 200
    await call.bye()


@pytest.mark.parametrize(
    ("statuses", "name", "status"),
    [
        ([480, 486], "Busy", 486),
        ([404, 503], "Failed", 404),
        ([480, 503], "NoAnswer", 480),
        ([408, 503], "Failed", 503),
        ([408], "TimedOut", 408),
        ([487], "Cancelled", 487),
        ([486, 603], "Failed", 603),
        ([], "Failed", 503),
    ],
)
def test_the_most_telling_failure_is_reported(statuses, name, status):
    responses = [Response(code, reason_phrase(code)) for code in statuses]
    result = failure_result(responses)
    assert (result.name.value, result.status) == (name, status)
