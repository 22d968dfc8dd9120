"""SIGTERM with a call up: the command stops taking calls (503), lets the call run for the
grace period, ends it with BYE to both phones, records it, and returns (the process exits 0).

The command runs on the test's event loop against the test database (the Django-backed
directory and event sink, Celery tasks in-process), with two sipcore phones registered by
digest. The signal is sent to this process; the command's loop handler takes it.
"""

from __future__ import annotations

import asyncio
import io
import os
import signal
from dataclasses import replace

import pytest
from asgiref.sync import sync_to_async
from django.db import connections

from sipcore.tests.phones import Phone
from sipcore.transport import Peer
from sipplatform.calls.models import CallDetailRecord
from sipplatform.customers.services import create_customer
from sipplatform.dialplans.models import Dialplan
from sipplatform.directory.services import create_sip_account, default_domain
from sipplatform.envconfig import ListenAddress
from sipplatform.sipworker.management.commands.sipworker import Command
from sipplatform.sipworker.runtime import worker_config
from sipplatform.sipworker.tests.support import free_port

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "Sesame-Open-42"
GRACE = 1.0
TIMEOUT = 15


async def in_db(query, *args, **kwargs):
    def run():
        try:
            return query(*args, **kwargs)
        finally:
            connections.close_all()

    return await sync_to_async(run)()


def provision() -> str:
    """Alice may call any local account; bob has no dialplan, so his phone rings."""
    acme = create_customer("Acme")
    outgoing = Dialplan.objects.create(customer=acme, name="out", script='sys.Dial("${dst}@local")')
    create_sip_account(acme, "alice", password=PASSWORD, outgoing_dialplan=outgoing)
    create_sip_account(acme, "bob", password=PASSWORD)
    return default_domain().name


async def test_sigterm_drains_the_call_then_ends_it_with_bye(settings):
    domain = await in_db(provision)
    port = free_port()
    output = io.StringIO()
    command = Command(stdout=output)
    config = replace(worker_config(worker_id="drain-test", drain_grace=GRACE), dialplan_pool_size=1)
    serving = asyncio.create_task(
        command.serve([ListenAddress(transport="udp", host="127.0.0.1", port=port)], config)
    )
    server = Peer("udp", "127.0.0.1", port)
    phones: list[Phone] = []
    try:
        await _wait_for(lambda: "listening on" in output.getvalue())
        for user in ("alice", "bob"):
            phone = await Phone.start(user=user, domain=domain, password=PASSWORD, server=server)
            phones.append(phone)
            assert (await phone.register()).status == 200
        alice, bob = phones

        call = await alice.call(f"sip:bob@{domain}")
        assert call.final.status == 200
        answered_leg = bob.calls[0]

        os.kill(os.getpid(), signal.SIGTERM)
        await _wait_for(lambda: "draining" in output.getvalue())
        refused = await alice.call(f"sip:bob@{domain}")
        assert refused.final.status == 503
        assert not call.ended.is_set()

        async with asyncio.timeout(TIMEOUT):
            await answered_leg.ended.wait()
            await serving
        assert any(r.method == "BYE" for r in alice.requests)
    finally:
        serving.cancel()
        await asyncio.gather(serving, return_exceptions=True)
        for phone in phones:
            await phone.close()

    records = await in_db(lambda: list(CallDetailRecord.objects.filter(answered_status=200)))
    assert records
    assert all(record.hungup_at is not None for record in records)


async def _wait_for(predicate, timeout: float = TIMEOUT) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.02)
