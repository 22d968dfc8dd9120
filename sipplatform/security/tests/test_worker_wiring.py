"""The platform's SIP worker enforces these settings and shares its bans with the admin: a
scanner hitting ``run_worker`` (as ``runplatform`` and ``sipworker`` run it) is banned, and
the ban is in the staff's list, read from the same store."""

from __future__ import annotations

import asyncio
import socket
import time
from pathlib import Path

import pytest
from asgiref.sync import sync_to_async

from sipplatform.envconfig import ListenAddress
from sipplatform.security import services
from sipplatform.security.stores import EMBEDDED_STORE
from sipplatform.sipworker.runtime import run_worker, worker_config

SVWAR = Path(__file__).resolve().parents[3] / "sipcore/tests/sipvicious/svwar_register_100.sip"

pytestmark = pytest.mark.django_db(transaction=True)


async def test_a_scanner_banned_by_the_platforms_worker_is_listed_for_staff(settings):
    settings.SIP_SECURITY_EXEMPT_NETWORKS = []  # loopback stands in for the internet here
    settings.SIP_SECURITY_FIRST_BAN = 60
    stop = asyncio.Event()
    started: asyncio.Future[list[tuple[str, str, int]]] = asyncio.Future()
    worker = asyncio.ensure_future(
        run_worker(
            [ListenAddress(transport="udp", host="127.0.0.1", port=0)],
            stop,
            config=worker_config(worker_id="wiring-test", drain_grace=0),
            on_started=started.set_result,
        )
    )
    try:
        [(_, host, port)] = await asyncio.wait_for(started, 10)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as scanner:
            scanner.sendto(SVWAR.read_bytes(), (host, port))
        async with asyncio.timeout(5):
            while not await EMBEDDED_STORE.active_bans(now=time.time()):
                await asyncio.sleep(0.02)
    finally:
        stop.set()
        await asyncio.wait_for(worker, 30)
    [ban] = await sync_to_async(services.current_bans)()
    assert (ban.subject.key, ban.reason.value, ban.detail) == (
        "source:127.0.0.1",
        "scanner",
        "sipvicious",
    )
    assert ban.until - ban.since == 60
