"""A tr=c blind transfer's call to its target: the owner's `transfer` dialplan, no offer.

Real B2BUA and dialplan sandbox on 127.0.0.1, scriptable phones as targets; the listener
stands in for the transfer that placed the call (sipcore.b2bua.transfers).
"""

import asyncio

import pytest

from sipcore.b2bua.target_call import (
    TargetCall,
    TargetCallRequest,
    check_place_call,
)
from sipcore.memory_directory import customer
from sipcore.policy import (
    ALLOWED,
    CallRateLimiter,
    ConcurrentCalls,
    Decision,
    DestinationRules,
    Verdict,
)
from sipcore.tests.phones import DOMAIN, running_world, sdp
from sipcore.tests.test_transfer_policy import facts
from sipcore.transfer import PlaceCallFacts, judge_place_call

REFER_CALL_ID = "refer-call@transferor.test"
REFERRED_BY = f"<sip:alice@{DOMAIN}>"
TRANSFER = 'sys.Log("transfer to " + req.URI.User)\nsys.Dial("${dst}@local")\n'


class Listener:
    """Records every callback, in order; ``done`` once answered or failed."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []
        self.done = asyncio.Event()
        self.leg = None
        self.offer = b""

    def target_progress(self, status: int, reason: str) -> None:
        self.calls.append(("progress", status))

    def target_answered(self, leg, offer: bytes) -> None:
        assert leg.owner is None
        self.calls.append(("answered",))
        self.leg, self.offer = leg, offer
        self.done.set()

    def target_failed(self, status: int, reason: str) -> None:
        self.calls.append(("failed", status, reason))
        self.done.set()

    @property
    def outcomes(self) -> list[tuple]:
        return [call for call in self.calls if call[0] != "progress"]


@pytest.fixture
async def world():
    async with running_world() as world:
        for user in ("alice", "bob", "carol", "dave"):
            world.add_account(user)
        world.directory.add_dialplan(1, "transfer", TRANSFER)
        yield world


def owner(world):
    return world.directory.accounts[("alice", DOMAIN)]


def request(world, target_user: str = "carol", **changes) -> TargetCallRequest:
    values = {
        "owner": owner(world),
        "target_user": target_user,
        "target_uri": f"sip:{target_user}@{DOMAIN}",
        "referred_by": REFERRED_BY,
        "caller": f'"Bob Transferee" <sip:bob@{DOMAIN}>;tag=abc',
        "related_call_id": REFER_CALL_ID,
    } | changes
    return TargetCallRequest(**values)


def target_call(world, listener: Listener, target_user: str = "carol", **changes) -> TargetCall:
    b2bua = world.worker.b2bua
    return TargetCall(
        services=b2bua.services,
        pool=world.worker.pool,
        request=request(world, target_user, **changes),
        listener=listener,
    )


async def finished(call: TargetCall, listener: Listener | None = None) -> None:
    if listener is not None:
        await asyncio.wait_for(listener.done.wait(), 10)
    await asyncio.wait_for(asyncio.shield(call._task), 10)


def started_target_call(world, target_user: str = "carol") -> tuple[TargetCall, Listener]:
    """A target call to ``target_user``, started, and the listener it reports to."""
    listener = Listener()
    call = target_call(world, listener, target_user)
    call.start()
    return call, listener


async def finished_target_call(world, target_user: str = "carol") -> Listener:
    """The listener of a target call to ``target_user`` run to its end."""
    call, listener = started_target_call(world, target_user)
    await finished(call, listener)
    return listener


async def place_call_facts(world, target_user: str = "carol") -> PlaceCallFacts:
    """What ``check_place_call`` finds for a transfer of alice's to ``target_user``."""
    return await check_place_call(
        world.worker.b2bua.services, world.worker.pool, owner(world), target_user
    )


def concurrent(world) -> int:
    return world.worker.b2bua.concurrent.active(owner(world).id)


def logs(world) -> list[str]:
    return [e.data["text"] for e in world.events.events if e.kind == "dialplan.log"]


# the target answers ---------------------------------------------------------------------------


async def test_the_transfer_dialplan_rings_the_target_without_an_offer_and_hands_over_its_2xx(
    world,
):
    carol = await world.phone("carol")
    call, listener = started_target_call(world)
    await asyncio.wait_for(listener.done.wait(), 10)

    invite = (await carol.incoming.get()).invite
    assert invite.body == b""
    assert invite.headers.get("Content-Type") is None
    assert invite.headers.get("Referred-By") == REFERRED_BY
    assert invite.max_forwards == 70
    sender = invite.from_addr
    assert (sender.display_name, sender.uri.user) == ("Bob Transferee", "bob")
    assert listener.calls == [("progress", 180), ("answered",)]
    assert listener.offer == carol.answer_body
    assert call.answered_limit == world.worker.b2bua.config.max_call_seconds

    [event] = [e for e in world.events.events if e.kind == "dialplan.log"]
    assert event.data == {
        "call_id": REFER_CALL_ID,
        "text": "transfer to carol",
        "dialplan": "transfer",
    }
    assert event.customer_id == 1

    leg = listener.leg
    assert leg.confirmed and world.worker.b2bua.registry.find(leg.dialog.id) is leg
    assert concurrent(world) == 0, "the answered leg joins a call that already holds one"
    ringing = carol.calls[-1]
    await asyncio.sleep(0.3)
    assert not ringing.acked.is_set(), "the ACK waits for the transferee's answer"
    await leg.complete_ack(sdp("answer-bob"), "application/sdp")
    await asyncio.wait_for(ringing.acked.wait(), 5)
    assert ringing.ack.body == sdp("answer-bob")
    assert ringing.ack.headers.get("Content-Type") == "application/sdp"
    await leg.bye()
    await asyncio.wait_for(ringing.ended.wait(), 5)
    await finished(call)
    assert world.details() == [], "the winning leg is recorded by the call that bridges it"


async def test_a_target_with_an_incoming_dialplan_is_reached_through_it_without_an_offer(world):
    world.directory.add_dialplan(1, "desk", 'sys.Log("desk")\nsys.Dial("carol@local")')
    world.change_account("carol", incoming_dialplan="desk")
    carol = await world.phone("carol")
    call, listener = started_target_call(world)
    await asyncio.wait_for(listener.done.wait(), 10)
    assert listener.outcomes == [("answered",)]
    assert listener.offer == carol.answer_body
    ringing = carol.calls[-1]
    assert ringing.invite.body == b""
    assert "desk" in logs(world)
    await listener.leg.complete_ack(sdp("answer-bob"), "application/sdp")
    await asyncio.wait_for(ringing.acked.wait(), 5)
    assert ringing.ack.body == sdp("answer-bob")
    await listener.leg.bye()
    await world.settle(lambda: world.worker.active_calls == 0)
    await finished(call)


async def test_legs_that_lost_the_fork_are_recorded_and_the_winner_is_handed_over(world):
    world.directory.add_dialplan(1, "transfer", 'sys.Dial("dave@local&${dst}@local")')
    await world.phone("dave", mode="busy")
    carol = await world.phone("carol", ring_delay=0.3)
    call, listener = started_target_call(world)
    await asyncio.wait_for(listener.done.wait(), 10)
    assert listener.outcomes == [("answered",)]
    assert listener.offer == carol.answer_body
    [dave] = world.details()
    assert (dave["answered_status"], dave["bridged_call_id"]) == (486, REFER_CALL_ID)
    assert dave["destination"] == "dave@local" and dave["customer_id"] == 1
    await listener.leg.bye()
    await finished(call)


# the target does not answer -------------------------------------------------------------------


async def test_a_busy_target_fails_the_transfer_with_486_and_its_leg_is_recorded(world):
    await world.phone("carol", mode="busy")
    listener = await finished_target_call(world)
    assert listener.calls == [("progress", 180), ("failed", 486, "Busy Here")]
    [leg] = world.details()
    assert (leg["answered_status"], leg["progress_status"]) == (486, 180)
    assert leg["bridged_call_id"] == REFER_CALL_ID and leg["hangup_reason"] == "486 Busy Here"
    assert concurrent(world) == 0


async def test_a_target_that_does_not_answer_in_time_is_cancelled_and_fails_with_480(world):
    world.directory.add_dialplan(1, "transfer", 'sys.Dial("${dst}@local", 1)')
    carol = await world.phone("carol", mode="ring")
    call, listener = started_target_call(world)
    ringing = await asyncio.wait_for(carol.incoming.get(), 5)
    assert concurrent(world) == 1, "the ringing target call holds one of the owner's calls"
    await finished(call, listener)
    assert listener.outcomes == [("failed", 480, "No Answer")]
    await asyncio.wait_for(ringing.cancelled.wait(), 5)
    assert concurrent(world) == 0


async def test_sys_respond_in_the_transfer_dialplan_is_the_transfer_s_failure(world):
    world.directory.add_dialplan(1, "transfer", 'sys.Respond(404, "No such extension")')
    listener = await finished_target_call(world)
    assert listener.calls == [("failed", 404, "No such extension")]


async def test_a_script_error_fails_the_transfer_with_500_and_a_logged_error(world):
    world.directory.add_dialplan(1, "transfer", "x = 1 // 0")
    listener = await finished_target_call(world)
    assert listener.calls == [("failed", 500, "Dialplan Error")]
    assert any("error" in line for line in logs(world))


async def test_a_premium_rate_target_is_blocked_before_any_invite_leaves(world):
    trunk = await world.phone("trunk", register=False)
    world.directory.platform_rules = DestinationRules(denied_prefixes=frozenset({"44909"}))
    world.directory.add_dialplan(
        1, "transfer", f'sys.Dial("sip:${{dst}}@127.0.0.1:{trunk.local.port}")'
    )
    target = "+449098790000"
    facts = await check_place_call(
        world.worker.b2bua.services, world.worker.pool, owner(world), target
    )
    assert facts.destination.verdict is Verdict.DENIED_PREFIX
    assert judge_place_call(facts).reason.startswith("Destination refused: destination +44909")

    listener = await finished_target_call(world, target)
    assert listener.calls == [("failed", 403, "Destination blocked by policy")]
    assert trunk.requests == []
    [blocked] = [e for e in world.events.events if e.kind == "call.blocked"]
    assert blocked.customer_id == 1 and blocked.data["call_id"] == REFER_CALL_ID


async def test_a_vanished_transfer_dialplan_fails_the_transfer_with_403(world):
    del world.directory.dialplans[(1, "transfer")]
    listener = await finished_target_call(world)
    assert listener.calls == [("failed", 403, "No transfer dialplan")]


# cancelling -----------------------------------------------------------------------------------


async def test_cancel_while_the_target_rings_sends_cancel_and_calls_neither_callback(world):
    carol = await world.phone("carol", mode="ring")
    call, listener = started_target_call(world)
    ringing = await asyncio.wait_for(carol.incoming.get(), 5)
    await world.settle(lambda: listener.calls == [("progress", 180)])
    call.cancel()
    await asyncio.wait_for(ringing.cancelled.wait(), 5)
    await finished(call)
    assert listener.calls == [("progress", 180)]
    [leg] = world.details()
    assert leg["answered_status"] == 487
    assert concurrent(world) == 0


async def test_an_answer_that_crosses_the_cancel_is_acknowledged_and_hung_up(world):
    carol = await world.phone("carol", mode="ring", ignore_cancel=True)
    call, listener = started_target_call(world)
    ringing = await asyncio.wait_for(carol.incoming.get(), 5)
    await world.settle(lambda: listener.calls == [("progress", 180)])
    call.cancel()
    await finished(call)
    ringing.answer()
    await asyncio.wait_for(ringing.acked.wait(), 5)
    await asyncio.wait_for(ringing.ended.wait(), 5)
    assert [r.method for r in ringing.requests] == ["BYE"]
    assert listener.calls == [("progress", 180)]
    await world.settle(lambda: len(world.details()) == 1)
    assert concurrent(world) == 0


async def test_cancel_before_the_dialplan_runs_rings_nobody(world):
    carol = await world.phone("carol")
    call, listener = started_target_call(world)
    call.cancel()
    await finished(call)
    await asyncio.sleep(0.2)
    assert listener.calls == [] and carol.calls == []


# the checks before the REFER is accepted ------------------------------------------------------


async def test_check_place_call_facts_for_a_transfer_that_can_be_attempted(world):
    facts = await place_call_facts(world)
    assert facts.dialplan_exists and facts.runtime_available
    assert (facts.executions_active, facts.execution_limit) == (0, 5)
    assert facts.destination is ALLOWED and facts.concurrent is ALLOWED and facts.rate is ALLOWED
    assert judge_place_call(facts) is None


async def test_check_place_call_without_a_transfer_dialplan_refuses(world):
    del world.directory.dialplans[(1, "transfer")]
    facts = await place_call_facts(world)
    assert not facts.dialplan_exists
    assert judge_place_call(facts).reason == "No transfer dialplan"
    facts = await check_place_call(world.worker.b2bua.services, None, owner(world), "carol")
    assert not facts.runtime_available


async def test_check_place_call_counts_the_customer_s_running_dialplans(world):
    world.change_account("alice", customer=customer(1, max_concurrent_executions=1))
    world.directory.add_dialplan(1, "transfer", 'sys.Dial("${dst}@local")')
    carol = await world.phone("carol", mode="ring")
    running, listener = started_target_call(world)
    ringing = await asyncio.wait_for(carol.incoming.get(), 5)
    facts = await place_call_facts(world, "dave")
    assert (facts.executions_active, facts.execution_limit) == (1, 1)
    assert judge_place_call(facts).reason == "Dialplan execution limit reached"

    second = await finished_target_call(world, "dave")
    assert second.calls == [("failed", 480, "Too Many Dialplan Executions")]

    ringing.answer()
    await asyncio.wait_for(listener.done.wait(), 5)
    await listener.leg.bye()
    await finished(running)
    assert world.worker.pool.active_executions(1) == 0


async def test_the_owner_s_concurrent_call_limit_counts_the_call_being_transferred(world):
    world.change_account("alice", max_concurrent_calls=1)
    world.directory.add_dialplan(1, "out", 'sys.Dial("${dst}@local")')
    world.change_account("alice", outgoing_dialplan="out")
    await world.phone("bob")
    alice = await world.phone("alice")
    carol = await world.phone("carol")
    talking = await alice.call(f"sip:bob@{DOMAIN}")
    assert talking.final.status == 200 and concurrent(world) == 1

    facts = await place_call_facts(world)
    assert facts.concurrent.verdict is Verdict.CONCURRENT_LIMIT
    assert judge_place_call(facts).reason == "Call limit reached: 1 calls already active"

    listener = await finished_target_call(world)
    assert listener.calls == [("failed", 503, "1 calls already active")]
    assert carol.calls == [] and concurrent(world) == 1
    await talking.bye()


async def test_the_customer_s_call_rate_counts_the_transfer_s_call(world):
    world.change_account("alice", customer=customer(1, max_calls_per_minute=1))
    services = world.worker.b2bua.services
    facts = await check_place_call(services, world.worker.pool, owner(world), "carol")
    assert facts.rate is ALLOWED, "checking counts no start"
    carol = await world.phone("carol", mode="busy")
    listener = await finished_target_call(world)
    assert listener.outcomes == [("failed", 486, "Busy Here")]

    facts = await check_place_call(services, world.worker.pool, owner(world), "carol")
    assert facts.rate.verdict is Verdict.RATE_LIMIT
    assert judge_place_call(facts).reason == "Call limit reached: more than 1 calls in a minute"
    again = await finished_target_call(world)
    assert again.calls == [("failed", 503, "more than 1 calls in a minute")]
    assert len(carol.calls) == 1


# the request --------------------------------------------------------------------------------


async def test_a_request_with_unusable_values_is_refused_when_built(world):
    with pytest.raises(ValueError, match="unusable transfer request"):
        request(world, caller="<sip:bob@")
    with pytest.raises(ValueError, match="unusable transfer request"):
        request(world, target_uri="carol")
    with pytest.raises(ValueError, match="Referred-By"):
        request(world, referred_by="<sip:a@b>\r\nX-Evil: 1")
    with pytest.raises(ValueError, match="Max-Forwards"):
        request(world, max_forwards=0)
    call, _ = started_target_call(world)
    with pytest.raises(RuntimeError):
        call.start()
    call.cancel()
    await finished(call)


# the facts and the policy peeks, without a worker ---------------------------------------------


def test_the_new_facts_default_to_allowing_so_older_callers_keep_their_meaning():
    assert judge_place_call(facts()) is None


def test_limits_and_a_missing_runtime_refuse_with_403_naming_the_cause():
    busy = ConcurrentCalls()
    busy.acquire("alice", 1)
    refusal = judge_place_call(facts(concurrent=busy.allows("alice", 1)))
    assert (refusal.status, refusal.reason) == (403, "Call limit reached: 1 calls already active")
    limiter = CallRateLimiter()
    limiter.try_start("acme", 1, now=0.0)
    refusal = judge_place_call(facts(rate=limiter.allows("acme", 1, now=1.0)))
    assert refusal.reason == "Call limit reached: more than 1 calls in a minute"
    refusal = judge_place_call(facts(runtime_available=False))
    assert refusal.reason == "No dialplan runtime"


def test_the_dialplan_and_destination_come_before_the_limits():
    refused = Decision(verdict=Verdict.RATE_LIMIT, detail="x")
    assert judge_place_call(facts(dialplan_exists=False, rate=refused)).reason == (
        "No transfer dialplan"
    )
    premium = DestinationRules(denied_prefixes=frozenset({"44909"})).judge("+449091")
    reason = judge_place_call(facts(destination=premium, concurrent=refused)).reason
    assert reason.startswith("Destination refused")


def test_peeking_at_the_limits_takes_nothing():
    calls = ConcurrentCalls()
    assert all(calls.allows("alice", 1).allowed for _ in range(3))
    assert calls.active("alice") == 0
    limiter = CallRateLimiter()
    assert all(limiter.allows("acme", 1, now=float(t)).allowed for t in range(3))
    assert limiter.try_start("acme", 1, now=3.0).allowed
    assert limiter.allows("acme", 1, now=4.0).verdict is Verdict.RATE_LIMIT
    assert limiter.allows("acme", 1, now=63.5).allowed
