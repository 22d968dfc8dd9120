"""REFERs written byte for byte by SIPp (``sipp/*.xml``) through a SipWorker.

SIPp plays bob, the called party and transferor, at an address bound to his account; alice
(a scriptable phone) calls him and carol (another) is the target. ``refer_transferor.xml``
sends two Refer-To headers (``400``), a Replaces naming its own dialogue (``400``), then
compact headers with ``Refer-Sub: false`` under ``tr=c`` (``202 Accepted`` with
``Refer-Sub: false``, no NOTIFY); ``refer_at_once.xml`` sends its REFER the instant the ACK
arrives. SIPp fails on any other answer or an unexpected request; the tests check the rest:
who alice ends up talking to, and the audit records.
"""

import asyncio
import shutil
import time
from pathlib import Path

import pytest

from sipcore.directory import BindingRecord
from sipcore.testing import free_port
from sipcore.tests.phones import DOMAIN, World, running_world
from sipcore.tests.transfer_e2e import (
    SIP_PORTS,
    add_transfer_dialplan,
    final_audit,
    use_policy,
)

pytestmark = [
    pytest.mark.real,
    pytest.mark.skipif(shutil.which("sipp") is None, reason="SIPp is not installed"),
]

SCENARIOS = Path(__file__).parent / "sipp"


@pytest.fixture
async def world():
    async with running_world() as world:
        for user in ("alice", "bob", "carol"):
            world.add_account(user)
        yield world


async def sipp_bob(world: World, tmp_path: Path, scenario: str) -> asyncio.subprocess.Process:
    """SIPp running ``scenario`` as bob's one registered contact, for one call."""
    sip_port = free_port(SIP_PORTS)
    control_port = free_port(SIP_PORTS, sip_port)
    bob = world.directory.accounts[("bob", DOMAIN)]
    await world.directory.save_binding(
        BindingRecord(
            account_id=bob.id,
            contact_uri=f"sip:bob@127.0.0.1:{sip_port};transport=udp",
            transport="udp",
            received_host="127.0.0.1",
            received_port=sip_port,
            expires_at=time.time() + 600,
        ),
        max_bindings=5,
        now=time.time(),
    )
    process = await asyncio.create_subprocess_exec(
        "sipp",
        *("-sf", str(SCENARIOS / scenario), "-i", "127.0.0.1", "-p", str(sip_port)),
        *("-cp", str(control_port), "-ci", "127.0.0.1", "-m", "1", "-timeout", "30s"),
        *("-nostdin", "-trace_err", "-trace_msg"),
        *("-message_file", str(tmp_path / "sipp-messages.log")),
        *("-error_file", str(tmp_path / "sipp-errors.log")),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    await asyncio.sleep(0.3)  # SIPp binds its port
    return process


async def finished(process: asyncio.subprocess.Process, tmp_path: Path) -> None:
    """Wait for SIPp; its error log is the failure message."""
    try:
        async with asyncio.timeout(30):
            await process.wait()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    errors = tmp_path / "sipp-errors.log"
    assert process.returncode == 0, errors.read_text() if errors.exists() else "no SIPp log"


async def test_sipp_transferors_exact_refers_get_400_400_then_202_without_notifies(world, tmp_path):
    use_policy(world, "c", "bob")
    add_transfer_dialplan(world)
    sipp = await sipp_bob(world, tmp_path, "refer_transferor.xml")
    carol = await world.phone("carol")
    alice = await world.phone("alice")
    call = await alice.call(f"sip:bob@{DOMAIN}")
    assert call.final is not None and call.final.status == 200, call.final
    await finished(sipp, tmp_path)
    record = await final_audit(world, 3)
    target = await asyncio.wait_for(carol.incoming.get(), 5)
    assert call.remote_sdp == carol.answer_body
    assert target.ack is not None and target.ack.body == alice.answer_body
    assert (await call.bye()).status == 200
    await asyncio.wait_for(target.ended.wait(), 5)
    audits = [a for a in world.events.transfer_audits if a["outcome"] != "pending"]
    assert [(a["kind"], a["final_status"], a["outcome"]) for a in audits] == [
        ("blind", 400, "rejected"),
        ("attended", 400, "rejected"),
        ("blind", 200, "completed"),
    ]
    assert audits[1]["reason"] == "Replaces names the REFER's own dialogue"
    assert record["notify_statuses"] == [] and record["referred_by"] == f"<sip:bob@{DOMAIN}>"


async def test_a_refer_sent_the_instant_the_call_is_acknowledged_is_declined_not_lost(
    world, tmp_path
):
    sipp = await sipp_bob(world, tmp_path, "refer_at_once.xml")
    alice = await world.phone("alice")
    call = await alice.call(f"sip:bob@{DOMAIN}")
    assert call.final is not None and call.final.status == 200, call.final
    await finished(sipp, tmp_path)
    await asyncio.wait_for(call.ended.wait(), 5)
    [record] = world.events.transfer_audits
    assert (record["decision"], record["final_status"]) == ("rejected", 603)
