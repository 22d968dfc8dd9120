"""``manage.py runplatform`` runs the SIP worker on the portal's event loop.

The embedded platform as a user starts it (SQLite, in-memory channel layer, tasks in-process):
its banner names the SIP registrar, the worker answers there, a demo phone (a sipcore user
agent) registers with the printed credentials by digest, and SIGTERM stops the whole process
with status 0.
"""

from __future__ import annotations

import re
import signal
import sys

from sipcore.tests.phones import Phone
from sipcore.transport import Peer
from sipplatform.sipworker.tests.support import free_port, options_probe, wait_for_output
from tests.integration.processes import platform_env, stop_process

PHONE = re.compile(r"(\w+)@\S+\s+username: \S+\s+password: (\S+)\s+domain: (\S+)")
READY_LINE = "Press Ctrl-C to stop."


async def test_the_embedded_worker_answers_and_registers_the_demo_phones(spawn, tmp_path):
    http_port = free_port()
    sip_port = free_port(http_port)
    env = platform_env(
        DATABASE_URL=f"sqlite:///{tmp_path / 'platform.sqlite3'}",
        SIPPLATFORM_VAR_DIR=str(tmp_path / "var"),
    )
    log = tmp_path / "runplatform.log"
    argv = [sys.executable, "manage.py", "runplatform", "--http", f"127.0.0.1:{http_port}"]
    platform = spawn([*argv, "--listen", f"udp:127.0.0.1:{sip_port}"], env, log=log)

    banner = wait_for_output(log, READY_LINE, platform)
    assert f"sip:127.0.0.1:{sip_port};transport=udp" in banner
    assert options_probe(sip_port).status == 200

    phones = {user: (password, domain) for user, password, domain in PHONE.findall(banner)}
    password, domain = phones["alice"]
    phone = await Phone.start(
        user="alice", domain=domain, password=password, server=Peer("udp", "127.0.0.1", sip_port)
    )
    try:
        assert (await phone.register()).status == 200
    finally:
        await phone.close()

    assert stop_process(platform, signal.SIGTERM) == 0
    assert "Stopped." in log.read_text()
