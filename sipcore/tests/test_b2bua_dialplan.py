"""Dialplans driving real calls: sys.* against the B2BUA, logs, errors, a dying sandbox."""

import asyncio
import os
import signal

import pytest

from sipcore.tests.phones import DOMAIN, running_world

SIPSORCERY = """\
if sys.Out:
    sys.Dial("${dst}@local")
else:
    sys.Dial("%s@local" % sys.Username)
sys.Respond(480, "Nobody home")
"""


@pytest.fixture
async def world():
    async with running_world() as world:
        for user in ("alice", "bob", "carol"):
            world.add_account(user)
        yield world


def logs(world) -> list[str]:
    return [e.data["text"] for e in world.events.events if e.kind == "dialplan.log"]


async def test_sipsorcery_script_runs_verbatim_both_ways(world):
    world.directory.add_dialplan(1, "main", SIPSORCERY)
    world.change_account("alice", outgoing_dialplan="main")
    world.change_account("bob", incoming_dialplan="main")
    await world.phone("bob")
    alice = await world.phone("alice")
    out = await alice.call("sip:bob@example.test")
    assert out.final.status == 200
    await out.bye()
    await world.settle(lambda: world.worker.active_calls == 0)
    stranger = await world.phone("stranger", register=False)
    incoming = await stranger.call(f"sip:bob@{DOMAIN}", from_host="elsewhere.test")
    assert incoming.final.status == 200
    await incoming.bye()


async def test_sys_log_reaches_the_monitor_with_the_customer(world):
    world.directory.add_dialplan(1, "out", 'sys.Log("hello " + req.URI.User)\nsys.Respond(404)')
    world.change_account("alice", outgoing_dialplan="out")
    alice = await world.phone("alice")
    call = await alice.call("sip:12345@example.test")
    assert call.final.status == 404
    [event] = [e for e in world.events.events if e.kind == "dialplan.log"]
    assert event.data["text"] == "hello 12345"
    assert event.customer_id == 1
    assert event.data["dialplan"] == "out"


async def test_script_error_gives_500_and_a_logged_error(world):
    world.directory.add_dialplan(1, "out", "x = 1 // 0")
    world.change_account("alice", outgoing_dialplan="out")
    alice = await world.phone("alice")
    call = await alice.call("sip:1@example.test")
    assert call.final.status == 500
    assert any("error" in line for line in logs(world))


async def test_a_dying_sandbox_costs_its_call_a_500_and_the_worker_carries_on(world):
    world.directory.add_dialplan(1, "out", 'sys.Dial("bob@local")')
    world.change_account("alice", outgoing_dialplan="out")
    bob = await world.phone("bob", mode="ring")
    alice = await world.phone("alice")
    call = await alice.call("sip:1@example.test", wait=False)
    ringing = await bob.incoming.get()
    [pid] = await world.worker.pool.sandbox_pids()
    os.kill(pid, signal.SIGKILL)
    await asyncio.wait_for(call.task, 10)
    assert call.final.status == 500
    await asyncio.wait_for(ringing.cancelled.wait(), 5)
    bob.mode = "answer"
    await world.settle(lambda: world.worker.active_calls == 0)
    again = await alice.call("sip:1@example.test")
    assert again.final.status == 200
    await again.bye()


async def test_from_overrides_and_custom_headers_reach_the_callee(world):
    script = (
        'sys.SetFromHeader("Sales", "sales", None)\n'
        'sys.SetCustomSIPHeader("X-Account", sys.Username)\n'
        'sys.Dial("bob@local[fh=calls.example.test]")\n'
    )
    world.directory.add_dialplan(1, "out", script)
    world.change_account("alice", outgoing_dialplan="out")
    bob = await world.phone("bob")
    alice = await world.phone("alice")
    call = await alice.call("sip:1@example.test")
    invite = (await bob.incoming.get()).invite
    sender = invite.from_addr
    assert (sender.display_name, sender.uri.user, sender.uri.host) == (
        "Sales",
        "sales",
        "calls.example.test",
    )
    assert invite.headers.get("X-Account") == "alice"
    await call.bye()


async def test_dial_results_are_seen_by_the_script(world):
    script = (
        'r = sys.Dial("bob@local")\n'
        'sys.Log("%s %d" % (r, sys.LastFailureStatus))\n'
        'sys.Dial("carol@local")\n'
    )
    world.directory.add_dialplan(1, "out", script)
    world.change_account("alice", outgoing_dialplan="out")
    await world.phone("bob", mode="busy")
    await world.phone("carol")
    alice = await world.phone("alice")
    call = await alice.call("sip:1@example.test")
    assert call.final.status == 200
    assert "Busy 486" in logs(world)
    await call.bye()


async def test_dial_string_errors_are_logged_and_the_call_fails_cleanly(world):
    world.directory.add_dialplan(1, "out", 'sys.Dial("bob@local[zz=1]")')
    world.change_account("alice", outgoing_dialplan="out")
    alice = await world.phone("alice")
    call = await alice.call("sip:1@example.test")
    assert call.final.status == 480
    assert any("unknown dial string option" in line for line in logs(world))


async def test_leg_options_fu_and_fd_win_over_sys_set_from_header(world):
    script = 'sys.SetFromHeader("Sales", "sales", None)\nsys.Dial("bob@local[fu=ops,fd=Ops Desk]")'
    world.directory.add_dialplan(1, "out", script)
    world.change_account("alice", outgoing_dialplan="out")
    bob = await world.phone("bob")
    alice = await world.phone("alice")
    call = await alice.call("sip:1@example.test")
    sender = (await bob.incoming.get()).invite.from_addr
    assert (sender.display_name, sender.uri.user, sender.uri.host) == ("Ops Desk", "ops", DOMAIN)
    await call.bye()


async def test_dialling_an_account_with_an_incoming_dialplan_runs_that_dialplan(world):
    world.directory.add_dialplan(1, "out", 'sys.Dial("bob@local")')
    world.directory.add_dialplan(1, "forward", 'sys.Log("forwarding")\nsys.Dial("carol@local")')
    world.change_account("alice", outgoing_dialplan="out")
    world.change_account("bob", incoming_dialplan="forward")
    carol = await world.phone("carol")
    alice = await world.phone("alice")
    call = await alice.call("sip:bob@example.test")
    assert call.final.status == 200
    assert call.final.body == carol.answer_body
    assert (await carol.incoming.get()).invite.body == call.invite.body
    assert "forwarding" in logs(world)
    assert (await call.bye()).status == 200
    await world.settle(lambda: world.worker.active_calls == 0)


async def test_a_forged_hairpin_mark_gets_no_pass(world):
    mallory = await world.phone("mallory", register=False)
    call = await mallory.call(f"sip:bob@{DOMAIN}", headers=[("X-Sipplatform-Hairpin", "0" * 32)])
    assert call.final.status == 403
    assert call.invite.headers.get("Proxy-Authorization") is not None
