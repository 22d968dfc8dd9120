"""The benchmark's load tools against a real worker (on ``MemoryDirectory``): the digest
registration generator counts what it should, and the SIPp call scenarios complete calls
through the B2BUA (a quick functional check of ``make bench``, not a measurement)."""

from __future__ import annotations

import asyncio
import shutil
import time

import pytest

from sipcore.directory import BindingRecord
from sipcore.memory_directory import account, customer
from sipcore.tests.phones import PASSWORD, hashes, running_world
from sipplatform.sipworker import bench
from sipplatform.sipworker.register_load import register_at_rate

SERVED = "127.0.0.1"


async def test_the_registration_generator_counts_completed_digest_registrations():
    async with running_world() as world:
        for user in ("reg0", "reg1"):
            world.add_account(user)
        run = await register_at_rate(
            (world.addresses["udp"].host, world.addresses["udp"].port),
            domain="example.test",
            users=["reg0", "reg1", "nobody"],
            password=PASSWORD,
            rate=30,
            seconds=0.5,
            timeout=3,
        )

    assert run.attempted == 15
    # Every third registration is for an unknown user, refused after its credentials.
    assert run.successful == 10
    assert run.failure_ratio == pytest.approx(1 / 3)
    assert sum(run.refusals.values()) == 5
    assert run.unanswered == 0


@pytest.mark.real
async def test_the_sipp_call_scenarios_complete_calls_through_the_worker(tmp_path):
    if shutil.which("sipp") is None:
        pytest.skip("SIPp is not installed (apt-get install sip-tester)")
    sipp = bench.Sipp(tmp_path)
    uas = sipp.start_uas()
    try:
        async with running_world() as world:
            world.directory.add_domain(SERVED)
            called = world.directory.add_account(
                account(customer(1), "uas", SERVED, hashes("uas", realm=SERVED))
            )
            await world.directory.save_binding(
                BindingRecord(
                    account_id=called.id,
                    contact_uri=f"sip:uas@{SERVED}:{bench.UAS_PORT}",
                    transport="udp",
                    received_host=SERVED,
                    received_port=bench.UAS_PORT,
                    expires_at=time.time() + 600,
                ),
                max_bindings=1,
                now=time.time(),
            )
            port = world.addresses["udp"].port
            # SIPp waits for the worker, which runs on this test's loop: wait off the loop.
            run = await asyncio.to_thread(sipp.run, "uac.xml", port, rate=10, seconds=1)
    finally:
        bench.stop(uas)

    assert (run.attempted, run.successful, run.failed) == (10, 10, 0)
    assert len(run.post_dial_ms) == 10
