"""Calls between accounts through a SipWorker, with sipcore phones over loopback UDP and TCP."""

import asyncio

import pytest

from sipcore.endpoint import EndpointConfig
from sipcore.tests.phones import DOMAIN, running_world, sdp
from sipcore.transaction import TimerConfig


@pytest.fixture
async def world():
    async with running_world() as world:
        world.add_account("alice")
        world.add_account("bob")
        world.add_account("carol")
        yield world


@pytest.mark.parametrize("transport", ["udp", "tcp"])
async def test_call_is_answered_with_sdp_untouched_and_hung_up_by_the_caller(world, transport):
    bob = await world.phone("bob", transport)
    alice = await world.phone("alice", transport)
    offer = sdp("alice-offer-7")
    call = await alice.call(f"sip:bob@{DOMAIN}", body=offer)
    assert call.final.status == 200
    assert call.final.body == bob.answer_body
    incoming = await bob.incoming.get()
    assert incoming.invite.body == offer
    assert [r.status for r in call.provisionals if r.status != 100] == [180]
    await world.settle(lambda: world.worker.active_calls == 1)
    assert (await call.bye()).status == 200
    await asyncio.wait_for(incoming.ended.wait(), 5)
    await world.settle(lambda: world.worker.active_calls == 0)
    kinds = world.events.kinds()
    assert [k for k in kinds if k.startswith("call.")] == [
        "call.new",
        "call.ringing",
        "call.answered",
        "call.ended",
    ]
    details = world.details()
    assert len(details) == 2
    assert len({d["leg_id"] for d in details}) == 2
    caller, callee = sorted(details, key=lambda d: d["direction"])
    assert caller["direction"] == "in" and callee["direction"] == "out"
    assert caller["answered_status"] == callee["answered_status"] == 200
    assert caller["hangup_reason"] == "BYE from caller"
    assert caller["bridged_call_id"] == callee["call_id"]
    assert caller["remote_socket"].startswith(transport)


async def test_callee_hangs_up(world):
    bob = await world.phone("bob")
    alice = await world.phone("alice")
    call = await alice.call(f"sip:bob@{DOMAIN}")
    incoming = await bob.incoming.get()
    await asyncio.wait_for(incoming.acked.wait(), 5)
    assert (await incoming.bye()).status == 200
    await asyncio.wait_for(call.ended.wait(), 5)
    assert [r.method for r in call.requests] == ["BYE"]
    await world.settle(lambda: len(world.details()) == 2)


@pytest.mark.parametrize(
    ("mode", "status"), [("busy", 486), ("reject", 603)], ids=["busy", "rejected"]
)
async def test_callee_failure_is_mapped_back(world, mode, status):
    await world.phone("bob", mode=mode)
    alice = await world.phone("alice")
    call = await alice.call(f"sip:bob@{DOMAIN}")
    assert call.final.status == status
    await world.settle(lambda: len(world.details()) == 2)
    assert world.events.kinds()[-1] == "call.ended"


async def test_unregistered_account_gets_480(world):
    alice = await world.phone("alice")
    call = await alice.call(f"sip:carol@{DOMAIN}")
    assert call.final.status == 480


async def test_unknown_callee_gets_404(world):
    alice = await world.phone("alice")
    call = await alice.call(f"sip:nobody@{DOMAIN}")
    assert call.final.status == 404


@pytest.mark.parametrize("transport", ["udp", "tcp"])
async def test_caller_cancels_while_ringing(world, transport):
    bob = await world.phone("bob", transport, mode="ring")
    alice = await world.phone("alice", transport)
    call = await alice.call(f"sip:bob@{DOMAIN}", wait=False)
    await asyncio.wait_for(call.ringing.wait(), 5)
    incoming = await bob.incoming.get()
    await call.cancel()
    await asyncio.wait_for(call.task, 5)
    assert call.final.status == 487
    await asyncio.wait_for(incoming.cancelled.wait(), 5)
    await world.settle(lambda: len(world.details()) == 2)
    assert [d["answered_status"] for d in world.details()] == [487, 487]
    assert world.worker.active_calls == 0


@pytest.mark.parametrize("transport", ["udp", "tcp"])
async def test_reinvite_and_info_are_relayed_in_dialogue(world, transport):
    bob = await world.phone("bob", transport)
    alice = await world.phone("alice", transport)
    call = await alice.call(f"sip:bob@{DOMAIN}")
    incoming = await bob.incoming.get()
    hold = sdp("alice-hold")
    response = await call.reinvite(hold)
    assert response.status == 200
    assert response.body == bob.answer_body
    assert incoming.requests[-1].method == "INVITE"
    assert incoming.requests[-1].body == hold
    assert (await call.request("INFO")).status == 200
    assert (await incoming.request("OPTIONS")).status == 200
    assert [r.method for r in incoming.requests] == ["INVITE", "INFO"]
    assert [r.method for r in call.requests] == ["OPTIONS"]
    await incoming.reinvite(sdp("bob-again"))
    assert call.requests[-1].body == sdp("bob-again")
    await call.bye()


async def test_cd_limit_ends_the_answered_call_on_both_sides(world):
    world.directory.add_dialplan(1, "short", 'sys.Dial("bob@local[cd=1]")')
    world.change_account("alice", outgoing_dialplan="short")
    bob = await world.phone("bob")
    alice = await world.phone("alice")
    call = await alice.call("sip:anything@example.test")
    assert call.final.status == 200
    incoming = await bob.incoming.get()
    await asyncio.wait_for(call.ended.wait(), 5)
    await asyncio.wait_for(incoming.ended.wait(), 5)
    await world.settle(lambda: len(world.details()) == 2)
    assert {d["hangup_reason"] for d in world.details()} == {"answered call limit reached"}


async def test_max_forwards_zero_gets_483(world):
    alice = await world.phone("alice")
    call = await alice.call(f"sip:bob@{DOMAIN}", max_forwards=0)
    assert call.final.status == 483


async def test_max_forwards_is_decremented_on_the_new_leg(world):
    bob = await world.phone("bob")
    alice = await world.phone("alice")
    await alice.call(f"sip:bob@{DOMAIN}", max_forwards=9)
    incoming = await bob.incoming.get()
    assert incoming.invite.max_forwards == 8


async def test_a_call_routed_back_to_the_worker_is_a_loop(world):
    udp = world.addresses["udp"]
    world.directory.add_dialplan(1, "loop", f'sys.Dial("sip:x@{udp.host}:{udp.port}")')
    world.change_account("alice", outgoing_dialplan="loop")
    alice = await world.phone("alice")
    call = await alice.call("sip:0123@example.test")
    assert call.final.status == 482


async def test_call_from_a_phone_that_is_not_ours_to_a_served_domain_rings_the_account(world):
    bob = await world.phone("bob")
    stranger = await world.phone("stranger", register=False)
    call = await stranger.call(f"sip:bob@{DOMAIN}", from_host="elsewhere.test")
    assert call.final.status == 200
    assert (await bob.incoming.get()).invite.from_addr.uri.host == "elsewhere.test"
    await call.bye()


async def test_relaying_to_a_domain_we_do_not_serve_is_refused(world):
    stranger = await world.phone("stranger", register=False)
    call = await stranger.call("sip:someone@elsewhere.test", from_host="elsewhere.test")
    assert call.final.status == 403


async def test_drain_refuses_new_calls_and_hangs_up_the_rest(world):
    bob = await world.phone("bob")
    alice = await world.phone("alice")
    call = await alice.call(f"sip:bob@{DOMAIN}")
    incoming = await bob.incoming.get()
    await world.worker.drain(0.2)
    await asyncio.wait_for(call.ended.wait(), 5)
    await asyncio.wait_for(incoming.ended.wait(), 5)
    assert world.worker.active_calls == 0
    assert {d["hangup_reason"] for d in world.details()} == {"worker shutting down"}
    late = await alice.call(f"sip:bob@{DOMAIN}")
    assert late.final.status == 503


async def test_delayed_offer_gets_its_answer_in_the_acks(world):
    bob = await world.phone("bob")
    alice = await world.phone("alice")
    call = await alice.call(f"sip:bob@{DOMAIN}", body=b"")
    assert call.final.body == bob.answer_body
    incoming = await bob.incoming.get()
    assert incoming.invite.body == b""
    await asyncio.wait_for(incoming.acked.wait(), 5)
    assert incoming.ack.body == alice.answer_body
    assert incoming.ack.headers.get("Content-Type") == "application/sdp"
    refresh = await incoming.request("INVITE")
    assert refresh.body == alice.answer_body
    await world.settle(lambda: call.ack is not None)
    assert call.ack.body == bob.answer_body
    await call.bye()


async def test_a_required_extension_we_lack_gets_420(world):
    alice = await world.phone("alice")
    call = await alice.call(f"sip:bob@{DOMAIN}", headers=[("Require", "100rel")])
    assert call.final.status == 420
    assert call.final.headers.get("Unsupported") == "100rel"


async def test_a_udp_phone_calls_a_tcp_phone(world):
    bob = await world.phone("bob", "tcp")
    alice = await world.phone("alice", "udp")
    call = await alice.call(f"sip:bob@{DOMAIN}")
    assert call.final.status == 200
    incoming = await bob.incoming.get()
    await asyncio.wait_for(incoming.acked.wait(), 5)
    assert (await call.request("UPDATE")).status == 200
    assert [r.method for r in incoming.requests] == ["UPDATE"]
    assert (await incoming.bye()).status == 200
    await asyncio.wait_for(call.ended.wait(), 5)


async def test_a_callee_gone_silent_times_out_with_408():
    fast = EndpointConfig(timers=TimerConfig(t1=0.02, t2=0.08, t4=0.1))
    async with running_world(endpoint=fast) as world:
        world.add_account("alice")
        world.add_account("bob")
        bob = await world.phone("bob")
        await bob.close()
        alice = await world.phone("alice")
        call = await alice.call(f"sip:bob@{DOMAIN}")
        assert call.final.status == 408


async def test_every_answered_call_ends_after_the_worker_maximum():
    async with running_world(max_call_seconds=0.5) as world:
        world.add_account("alice")
        world.add_account("bob")
        bob = await world.phone("bob")
        alice = await world.phone("alice")
        call = await alice.call(f"sip:bob@{DOMAIN}")
        incoming = await bob.incoming.get()
        await asyncio.wait_for(call.ended.wait(), 5)
        await asyncio.wait_for(incoming.ended.wait(), 5)


async def test_record_route_of_a_proxy_in_front_is_echoed_and_followed(world):
    bob = await world.phone("bob")
    alice = await world.phone("alice")
    proxy = f"<sip:{alice.local.hostport};lr>"
    call = await alice.call(f"sip:bob@{DOMAIN}", headers=[("Record-Route", proxy)])
    assert call.final.headers.get_all("Record-Route") == [proxy]
    incoming = await bob.incoming.get()
    await incoming.request("INFO")
    [info] = call.requests
    assert info.headers.get_all("Route") == [proxy]
    await call.bye()
