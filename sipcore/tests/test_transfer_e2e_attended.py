"""Attended transfers completed on the server, with three real linphonec phones as
transferor, transferee and target, through a SipWorker on 127.0.0.1.

The transferor talks to the transferee, puts it on hold (``pause``), calls the target and
then sends ``transfer 1 --to-call 2``: a REFER whose Refer-To carries a Replaces naming its
own consultation dialogue. The server re-bridges the two far ends and releases both of the
transferor's dialogues. Semi-attended: the same REFER while the consultation call still
rings. Who talks to whom is read from each phone's SIP trace (the audio
ports each phone finally holds), together with the NOTIFYs the transferor received, the
audit record and the live events.
"""

import pytest

from sipcore.tests.phones import DOMAIN, Linphone, running_world
from sipcore.tests.transfer_e2e import (
    LINPHONE_MARKS,
    add_accounts,
    add_transfer_dialplan,
    final_audit,
    phones_talk,
    refer_answered,
    running_linphones,
    traced_notifies,
    transfer_events,
    transfer_kinds,
    until_talking,
    use_policy,
)

pytestmark = LINPHONE_MARKS

USERS = ("alice", "bob", "carol")


async def consult(transferor: Linphone, transferee: Linphone, target: Linphone) -> None:
    """``transferor`` (already talking to ``transferee`` as call 1) holds it and calls
    ``target`` (call 2)."""
    await until_talking(transferor, transferee)
    await transferor.command("pause 1")
    await transferee.wait_line("paused", timeout=10)
    await transferor.command(f"call sip:{target.home.name.removeprefix('linphone-')}@{DOMAIN}")
    await target.wait_line("connected", timeout=15)
    await until_talking(transferor, target)


async def transferred(world, transferor: Linphone, transferee: Linphone, target: Linphone):
    """Send the attended REFER and wait until the transferee talks to the target; returns
    the NOTIFYs the transferor saw and the final audit record."""
    await transferor.command("transfer 1 --to-call 2")
    assert await refer_answered(transferor) == [202]
    await until_talking(transferee, target)
    record = await final_audit(world)
    await world.settle(lambda: not transferor.live_dialogues(), timeout=10)
    assert not phones_talk(transferor, transferee)
    assert not phones_talk(transferor, target)
    assert len(transferee.live_dialogues()) == len(target.live_dialogues()) == 1
    return traced_notifies(transferor), record


def assert_completed_on_the_server(world, notifies, record, policy: str) -> None:
    assert [status for _, status, _ in notifies] == [100, 200]
    assert len({event for event, _, _ in notifies}) == 1
    assert notifies[-1][2].startswith("terminated")
    assert (record["kind"], record["decision"], record["outcome"]) == (
        "attended",
        "processed",
        "completed",
    )
    assert record["policy"] == policy
    assert f"sip:bob@{DOMAIN}" in record["transferor"]
    assert f"sip:alice@{DOMAIN}" in record["transferee"]
    assert record["target"] == f"sip:carol@{DOMAIN}"
    assert record["notify_statuses"] == [100, 200] and record["final_status"] == 200
    assert record["replaces"] and len(record["related_call_ids"]) >= 2
    kinds = transfer_kinds(world)
    assert kinds[:2] == ["transfer.requested", "transfer.decided"]
    assert kinds[-1] == "transfer.completed"
    [decided] = transfer_events(world, "transfer.decided")
    assert decided["decision"] == "processed"


@pytest.mark.parametrize("policy", ["c", "p"])
async def test_callee_transfers_its_caller_to_the_target_it_consulted(tmp_path, policy):
    async with running_world() as world:
        add_accounts(world, *USERS)
        use_policy(world, policy, *USERS)
        async with running_linphones(tmp_path, world, *USERS) as (alice, bob, carol):
            await alice.command(f"call sip:bob@{DOMAIN}")
            await bob.wait_line("connected", timeout=15)
            await consult(bob, alice, carol)
            notifies, record = await transferred(world, bob, alice, carol)
            assert world.worker.active_calls >= 1
            await alice.command("terminate")
            await carol.wait_line("ended", timeout=10)
            await world.settle(lambda: world.worker.active_calls == 0, timeout=10)
    assert_completed_on_the_server(world, notifies, record, policy)


async def test_caller_transfers_the_party_it_called_to_a_second_party_it_called(tmp_path):
    async with running_world() as world:
        add_accounts(world, *USERS)
        use_policy(world, "c", *USERS)
        async with running_linphones(tmp_path, world, *USERS) as (alice, bob, carol):
            await bob.command(f"call sip:alice@{DOMAIN}")
            await alice.wait_line("connected", timeout=15)
            await consult(bob, alice, carol)
            notifies, record = await transferred(world, bob, alice, carol)
            await carol.command("terminate")
            await alice.wait_line("ended", timeout=10)
    assert_completed_on_the_server(world, notifies, record, "c")


@pytest.mark.parametrize("fallback_blind", [False, True], ids=["takeover", "fallback-blind"])
async def test_semi_attended_transfer_to_a_target_still_ringing(tmp_path, fallback_blind):
    """The transferor transfers while its consultation call still rings: the server takes
    the ringing dialogue over, or cancels it and calls the target anew (the account's
    setting); either way the transferee ends up talking to the target once it answers."""
    async with running_world() as world:
        add_accounts(world, *USERS, semi_attended_fallback_blind=fallback_blind)
        use_policy(world, "c", *USERS)
        add_transfer_dialplan(world)
        phones = running_linphones(tmp_path, world, *USERS, ringing=("carol",))
        async with phones as (alice, bob, carol):
            await alice.command(f"call sip:bob@{DOMAIN}")
            await bob.wait_line("connected", timeout=15)
            await until_talking(bob, alice)
            await bob.command("pause 1")
            await alice.wait_line("paused", timeout=10)
            await bob.command(f"call sip:carol@{DOMAIN}")
            await carol.wait_line("Receiving new incoming call", timeout=15)
            await world.settle(
                lambda: any(m.status == 180 and not m.sent for m in bob.sip_messages())
            )
            await bob.command("transfer 1 --to-call 2")
            assert await refer_answered(bob) == [202]
            if fallback_blind:  # the consultation INVITE is cancelled, the server calls anew
                await carol.wait_line("Receiving new incoming call", timeout=15)
            await carol.command("answer")
            await until_talking(alice, carol)
            record = await final_audit(world)
            await world.settle(lambda: not bob.live_dialogues(), timeout=10)
            notifies = traced_notifies(bob)
            await alice.command("terminate")
            await carol.wait_line("ended", timeout=10)
    assert (record["kind"], record["outcome"], record["final_status"]) == (
        "semi_attended",
        "completed",
        200,
    )
    statuses = [status for _, status, _ in notifies]
    assert (statuses[0], statuses[-1]) == (100, 200)
