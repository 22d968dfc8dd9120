"""Blind transfers end to end: real linphonec and baresip phones through a SipWorker on
127.0.0.1.

Each test asserts who ends up talking to whom from the phones' own SIP traces (the audio
ports in the session descriptions each phone holds), the NOTIFYs the transferor received,
the transfer audit record and the live events. alice calls bob; bob is the transferor,
alice the transferee, carol the target. Calls between accounts are owned by the called
account, so bob's account policy is the one in force on alice's call.
"""

import asyncio

import pytest

from sipcore.policy import DestinationRules
from sipcore.tests.phones import DOMAIN, Baresip, Linphone, running_world
from sipcore.tests.transfer_e2e import (
    LIBRE_ALGORITHMS,
    LINPHONE_MARKS,
    PREMIUM_PREFIXES,
    add_accounts,
    add_transfer_dialplan,
    final_audit,
    phones_talk,
    refer_answered,
    running_baresips,
    running_linphones,
    traced_notifies,
    transfer_events,
    transfer_kinds,
    transferor_left,
    until_talking,
    use_policy,
)

pytestmark = LINPHONE_MARKS

USERS = ("alice", "bob", "carol")


async def alice_calls_bob(alice: Linphone, bob: Linphone) -> None:
    await alice.command(f"call sip:bob@{DOMAIN}")
    await alice.wait_line("connected", timeout=15)
    await bob.wait_line("connected", timeout=15)
    await until_talking(alice, bob)


async def refused_and_still_talking(world, alice, bob, status: int) -> dict:
    """bob's blind REFER got ``status``; alice and bob still talk on the one call."""
    assert await refer_answered(bob) == [status]
    record = await final_audit(world)
    await asyncio.sleep(1.0)
    assert world.worker.active_calls == 1
    assert phones_talk(alice, bob)
    assert traced_notifies(bob) == []
    assert not [line for line in alice.lines + bob.lines if "ended" in line]
    return record


async def test_tr_n_linphone_blind_and_attended_refers_get_603_and_both_calls_stay_up(tmp_path):
    async with running_world() as world:
        add_accounts(world, *USERS)
        async with running_linphones(tmp_path, world, *USERS) as (alice, bob, carol):
            await alice_calls_bob(alice, bob)
            await bob.command(f"transfer sip:carol@{DOMAIN}")
            blind = await refused_and_still_talking(world, alice, bob, 603)
            await bob.command("pause 1")
            await alice.wait_line("paused", timeout=10)
            await bob.command(f"call sip:carol@{DOMAIN}")
            await carol.wait_line("connected", timeout=15)
            await until_talking(bob, carol)
            await bob.command("transfer 1 --to-call 2")
            assert await refer_answered(bob, 2) == [603, 603]
            attended = await final_audit(world, 2)
            await asyncio.sleep(1.0)
            assert world.worker.active_calls == 2
            assert phones_talk(bob, carol) and phones_talk(alice, bob)
            assert not phones_talk(alice, carol)
            assert traced_notifies(bob) == []
    assert [(r["kind"], r["decision"], r["final_status"]) for r in (blind, attended)] == [
        ("blind", "rejected", 603),
        ("attended", "rejected", 603),
    ]
    assert attended["replaces"] and blind["policy"] == attended["policy"] == "n"
    assert blind["reason"] == "Transfers are disabled on this call"
    assert transfer_kinds(world) == ["transfer.requested", "transfer.decided"] * 2


async def test_tr_p_the_transferees_new_call_is_routed_by_its_own_outgoing_dialplan(tmp_path):
    async with running_world() as world:
        add_accounts(world, *USERS)
        world.directory.add_dialplan(
            1, "alice-out", 'sys.Log("alice dials " + req.URI.User)\nsys.Dial("${dst}@local")\n'
        )
        world.change_account("alice", outgoing_dialplan="alice-out")
        use_policy(world, "p", "alice", "bob")
        async with running_linphones(tmp_path, world, *USERS) as (alice, bob, carol):
            await alice_calls_bob(alice, bob)
            await bob.command(f"transfer sip:carol@{DOMAIN}")
            assert await refer_answered(bob) == [202]
            await until_talking(alice, carol)
            record = await final_audit(world)
            await world.settle(lambda: not bob.live_dialogues(), timeout=10)
            notifies = traced_notifies(bob)
            [passed] = [m for m in alice.sip_messages() if m.start_line.startswith("REFER ")]
            await alice.command("terminate")
            await carol.wait_line("ended", timeout=10)
    assert passed.header("Refer-To").strip("<>") == f"sip:carol@{DOMAIN}"
    assert "bob" in (passed.header("Referred-By") or "")
    logs = [e.data["text"] for e in world.events.events if e.kind == "dialplan.log"]
    assert logs == ["alice dials bob", "alice dials carol"]
    assert (record["decision"], record["outcome"]) == ("passed_through", "completed")
    statuses = [status for _, status, _ in notifies]
    assert (statuses[0], statuses[-1]) == (100, 200)


async def test_tr_c_blind_runs_the_transfer_dialplan_rings_the_target_first_then_connects(
    tmp_path,
):
    async with running_world() as world:
        add_accounts(world, *USERS)
        use_policy(world, "c", "bob")
        add_transfer_dialplan(world)
        phones = running_linphones(tmp_path, world, *USERS, ringing=("carol",))
        async with phones as (alice, bob, carol):
            await alice_calls_bob(alice, bob)
            await bob.command(f"transfer sip:carol@{DOMAIN}")
            assert await refer_answered(bob) == [202]
            await carol.wait_line("Receiving new incoming call", timeout=15)
            [invite] = [m for m in carol.sip_messages() if m.start_line.startswith("INVITE ")]
            assert invite.body == "", "RFC 3725: the target is invited without an offer"
            assert invite.header("Referred-By") is not None
            await world.settle(lambda: [n[1] for n in traced_notifies(bob)][:2] == [100, 180])
            assert phones_talk(alice, bob), "the transferee is not touched while it rings"
            reinvites = [m for m in alice.sip_messages() if m.method == "INVITE" and m.is_request]
            assert all(m.sent for m in reinvites), "alice has received no re-INVITE yet"
            assert world.worker.active_calls == 1
            await carol.command("answer")
            await until_talking(alice, carol)
            await bob.wait_line("ended", timeout=10)
            record, notifies = await transferor_left(world, bob, alice)
            await alice.command("terminate")
            await carol.wait_line("ended", timeout=10)
    assert [status for _, status, _ in notifies] == [100, 180, 200]
    assert len({event for event, _, _ in notifies}) == 1
    assert notifies[0][0].startswith("refer;id=")
    assert notifies[-1][2].startswith("terminated")
    assert (record["kind"], record["decision"], record["outcome"]) == (
        "blind",
        "processed",
        "completed",
    )
    assert (record["policy"], record["policy_source"]) == ("c", "account")
    assert record["notify_statuses"] == [100, 180, 200] and record["final_status"] == 200
    assert record["target"] == f"sip:carol@{DOMAIN}"
    assert 0 <= record["decision_ms"] <= record["duration_ms"]
    assert record["referred_by"] and record["related_call_ids"]
    kinds = transfer_kinds(world)
    assert kinds[:2] == ["transfer.requested", "transfer.decided"]
    assert kinds[-1] == "transfer.completed"
    assert [e["status"] for e in transfer_events(world, "transfer.progress")] == [100, 180, 200]
    logs = [e for e in world.events.events if e.kind == "dialplan.log"]
    assert all(e.customer_id == 1 for e in logs)


async def test_tr_c_without_a_transfer_dialplan_the_refer_is_refused_and_the_call_stays_up(
    tmp_path,
):
    async with running_world() as world:
        add_accounts(world, *USERS)
        use_policy(world, "c", "bob")
        async with running_linphones(tmp_path, world, *USERS) as (alice, bob, carol):
            await alice_calls_bob(alice, bob)
            await bob.command(f"transfer sip:carol@{DOMAIN}")
            record = await refused_and_still_talking(world, alice, bob, 403)
            assert not carol.sip_messages() or not [
                m for m in carol.sip_messages() if m.start_line.startswith("INVITE ")
            ]
    assert (record["decision"], record["final_status"]) == ("rejected", 403)
    assert record["reason"] == "No transfer dialplan"
    assert transfer_kinds(world) == ["transfer.requested", "transfer.decided"]
    [decided] = transfer_events(world, "transfer.decided")
    assert (decided["status"], decided["decision"]) == (403, "rejected")


async def test_tr_c_a_busy_target_gives_a_final_notify_486_and_the_call_stays_up(tmp_path):
    async with running_world() as world:
        add_accounts(world, *USERS)
        use_policy(world, "c", "bob")
        add_transfer_dialplan(world)
        async with running_linphones(tmp_path, world, "alice", "bob") as (alice, bob):
            carol = await world.phone("carol", mode="busy")  # rings (180), then 486
            await alice_calls_bob(alice, bob)
            await bob.command(f"transfer sip:carol@{DOMAIN}")
            assert await refer_answered(bob) == [202]
            record = await final_audit(world)
            await world.settle(lambda: [n[1] for n in traced_notifies(bob)][-1:] == [486], 10)
            await asyncio.sleep(1.0)
            assert world.worker.active_calls == 1
            assert phones_talk(alice, bob)
            assert not [line for line in alice.lines + bob.lines if "ended" in line]
            notifies = traced_notifies(bob)
    assert [c.final.status for c in carol.calls if c.final is not None] == [486]
    assert [status for _, status, _ in notifies] == [100, 180, 486]
    assert notifies[-1][2].startswith("terminated")
    assert (record["decision"], record["outcome"], record["final_status"]) == (
        "processed",
        "failed",
        486,
    )
    assert record["notify_statuses"] == [100, 180, 486]
    assert transfer_kinds(world)[-1] == "transfer.failed"


async def test_tr_c_a_premium_rate_target_is_blocked_audited_and_shown_live(tmp_path):
    async with running_world() as world:
        world.directory.platform_rules = DestinationRules(denied_prefixes=PREMIUM_PREFIXES)
        add_accounts(world, "alice", "bob")
        use_policy(world, "c", "bob")
        add_transfer_dialplan(world)
        async with running_linphones(tmp_path, world, "alice", "bob") as (alice, bob):
            await alice_calls_bob(alice, bob)
            await bob.command(f"transfer sip:+449091234567@{DOMAIN}")
            record = await refused_and_still_talking(world, alice, bob, 403)
    assert (record["decision"], record["final_status"]) == ("rejected", 403)
    assert record["reason"].startswith("Destination refused")
    assert "44909" in record["reason"]
    assert record["target"] == f"sip:+449091234567@{DOMAIN}"
    [decided] = transfer_events(world, "transfer.decided")
    assert decided["status"] == 403 and decided["reason"] == record["reason"]
    assert decided["target"] == record["target"]
    shown = [e for e in world.events.events if e.kind.startswith("transfer.")]
    assert {e.customer_id for e in shown} == {1}


@pytest.mark.skipif(not Baresip.available(), reason="baresip is not installed")
async def test_tr_c_blind_between_baresips_ends_with_transferee_and_target_talking(tmp_path):
    async with running_world(digest_algorithms=LIBRE_ALGORITHMS) as world:
        add_accounts(world, *USERS)
        use_policy(world, "c", "bob")
        add_transfer_dialplan(world)
        async with running_baresips(tmp_path, world, *USERS) as (alice, bob, carol):
            await alice.command("dial", f"sip:bob@{DOMAIN}")
            await alice.wait_event("CALL_ESTABLISHED")
            await bob.wait_event("CALL_ESTABLISHED")
            await until_talking(alice, bob)
            await bob.command("transfer", f"sip:carol@{DOMAIN}")
            assert await refer_answered(bob) == [202]
            await carol.wait_event("CALL_ESTABLISHED", timeout=15)
            await until_talking(alice, carol)
            await bob.wait_event("CALL_CLOSED", timeout=10)
            record, notifies = await transferor_left(world, bob, alice)
            [invite] = [m for m in carol.sip_messages() if m.start_line.startswith("INVITE ")]
            await alice.command("hangup")
            await carol.wait_event("CALL_CLOSED", timeout=10)
    assert invite.body == "" and invite.header("Referred-By") is not None
    statuses = [status for _, status, _ in notifies]
    assert statuses[0] == 100 and statuses[-1] == 200
    assert (record["decision"], record["outcome"], record["final_status"]) == (
        "processed",
        "completed",
        200,
    )
    assert record["notify_statuses"] == statuses
    assert transfer_kinds(world)[-1] == "transfer.completed"
