"""The SIP worker against SIPVicious itself (PEERS.md flags; never -A or -R), on loopback.

The worker here exempts no network (loopback is exempt by default, for a load balancer on the
same machine), digest offers MD5 only (svcrack answers nothing else) and bans are short.

* svwar enumerates no account: its requests are dropped as a scanner's and its address
  banned; and a scanner hiding its User-Agent still learns nothing, because every REGISTER
  without good credentials is answered with the same 401.
* svcrack, hiding its User-Agent, is banned after the configured number of failures and
  finds no password, though the right one is in its range: without the ban it finds it.
* The ban lifts after its time: the same address registers again.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import socket
import sys
from pathlib import Path

import pytest
import redis

from sipcore.events import MemoryEventSink
from sipcore.memory_directory import MemoryDirectory, account, customer
from sipcore.message import Request, Response, new_branch, new_call_id, new_tag, parse_message
from sipcore.security import BanPolicy, GateConfig, Subject
from sipcore.security.redis_store import RedisCounterStore
from sipcore.tests.phones import FAST_TIMERS, hashes, running_world
from sipcore.tests.test_security_redis import redis_url
from sipcore.worker import SipWorker, WorkerConfig

pytestmark = pytest.mark.real

HOST = "127.0.0.1"
PASSWORD = "1010"  # the twelfth guess of "-u 100 -r 1000-1020" (the username is tried first)
FAILURES = 5
BAN_SECONDS = 3.0


def tool(name: str) -> str:
    found = shutil.which(name) or str(Path(sys.executable).parent / name)
    if not Path(found).exists():
        pytest.skip(f"{name} is not installed (pip install sipvicious==0.3.8)")
    return found


async def run(name: str, *args: str, timeout: float = 90.0) -> str:
    """Run a SIPVicious tool to its end; its output, stdout and stderr together."""
    process = await asyncio.create_subprocess_exec(
        tool(name),
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        output, _ = await asyncio.wait_for(process.communicate(), timeout)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    return output.decode(errors="replace")


def world_config(
    *, drop_scanners: bool = True, failures: int = FAILURES, ban: float = BAN_SECONDS
) -> dict[str, object]:
    return {
        "digest_algorithms": ("MD5",),
        "ban_policy": BanPolicy(max_source_failures=failures, first_ban=ban),
        "security_gate": GateConfig(exempt_networks=(), drop_scanners=drop_scanners),
        "security_refresh_interval": 0.2,
    }


def add_extensions(world, *users: str) -> None:
    for user in users:
        world.directory.add_account(
            account(customer(1), user, HOST, hashes(user, PASSWORD, realm=HOST))
        )


async def register_probe(port: int, timeout: float = 1.0) -> Response | None:
    """One plain REGISTER from 127.0.0.1; the final response, None when unanswered."""
    loop = asyncio.get_running_loop()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((HOST, 0))
        sock.setblocking(False)
        local = sock.getsockname()[1]
        request = Request(
            "REGISTER",
            f"sip:{HOST}",
            [
                ("Via", f"SIP/2.0/UDP {HOST}:{local};branch={new_branch()};rport"),
                ("From", f"<sip:100@{HOST}>;tag={new_tag()}"),
                ("To", f"<sip:100@{HOST}>"),
                ("Call-ID", new_call_id()),
                ("CSeq", "1 REGISTER"),
                ("Contact", f"<sip:100@{HOST}:{local}>"),
            ],
        )
        await loop.sock_sendto(sock, request.to_bytes(), (HOST, port))
        try:
            async with asyncio.timeout(timeout):
                while True:
                    answer = parse_message(await loop.sock_recv(sock, 65535))
                    if isinstance(answer, Response) and answer.status >= 200:
                        return answer
        except TimeoutError:
            return None


def cracked(output: str) -> bool:
    """Whether svcrack's result table shows extension 100 with its password."""
    return re.search(rf"\|\s*100\s*\|\s*{PASSWORD}\s*\|", output) is not None


def kinds(events: MemoryEventSink) -> list[str]:
    return [kind for kind in events.kinds() if kind.startswith("security.")]


@pytest.mark.parametrize("drop_scanners", [True, False], ids=["as-itself", "disguised"])
async def test_svwar_enumerates_no_account(drop_scanners):
    async with running_world(domain=HOST, **world_config(drop_scanners=drop_scanners)) as world:
        add_extensions(world, "100", "101")
        port = world.addresses["udp"].port
        output = await run(
            "sipvicious_svwar",
            *("-b", HOST, "-x", HOST, "-P", "19401", "-p", str(port), "-e", "100-102", HOST),
        )
        assert "found nothing" in output, output
        assert "| 100 " not in output and "| 101 " not in output
        if drop_scanners:
            assert kinds(world.events)[:2] == ["security.scanner", "security.banned"]
        else:
            assert "authentication request for an unknown extension" in output


async def test_svcrack_is_banned_after_the_configured_failures_and_the_ban_lifts():
    async with running_world(domain=HOST, **world_config(drop_scanners=False)) as world:
        add_extensions(world, "100")
        port = world.addresses["udp"].port
        output = await run(
            "sipvicious_svcrack",
            *("-b", HOST, "-x", HOST, "-P", "19402", "-p", str(port)),
            *("-u", "100", "-r", "1000-1020", "--maximumtime", "2", HOST),
        )
        assert not cracked(output), output
        assert "found nothing" in output, output
        banned = [e for e in world.events.events if e.kind == "security.banned"]
        assert len(banned) == 1
        assert banned[0].data["value"] == HOST
        assert banned[0].data["detail"] == f"{FAILURES} failed authentications"
        assert world.worker.security.gate.stats.dropped  # the rest of the guesses
        remaining = banned[0].data["until"] - world.worker.clock()
        if remaining > 0.5:
            assert await register_probe(port, timeout=0.3) is None  # still banned: silence
        await asyncio.sleep(max(0.0, remaining) + 0.5)
        answer = await register_probe(port)
        assert answer is not None and answer.status == 401  # answered again
        await world.settle(lambda: "security.unbanned" in world.events.kinds())


async def test_without_the_ban_svcrack_finds_the_password():
    """The control: the same attack against a worker that never bans succeeds."""
    config = world_config(drop_scanners=False, failures=10_000)
    async with running_world(domain=HOST, **config) as world:
        add_extensions(world, "100")
        port = world.addresses["udp"].port
        output = await run(
            "sipvicious_svcrack",
            *("-b", HOST, "-x", HOST, "-P", "19403", "-p", str(port)),
            *("-u", "100", "-r", "1000-1020", "--maximumtime", "2", HOST),
        )
        assert cracked(output), output


async def test_wrong_passwords_on_invite_challenges_ban_the_caller():
    async with running_world(**world_config()) as world:
        world.add_account("alice")
        world.add_account("bob")
        alice = await world.phone("alice", register=False, password="not-alices")
        for _ in range(FAILURES):
            call = await alice.call(f"sip:bob@{world.domain}")
            assert call.final is not None and call.final.status == 403
        await world.settle(lambda: "security.banned" in world.events.kinds())
        [banned] = [e for e in world.events.events if e.kind == "security.banned"]
        assert banned.data["subject"] == f"source:{HOST}"
        gate = world.worker.security.gate
        assert gate.is_banned(Subject.source(HOST), world.worker.clock())


async def test_svmap_finds_no_sip_device():
    async with running_world(domain=HOST, **world_config()) as world:
        port = world.addresses["udp"].port
        output = await run(
            "sipvicious_svmap", *("-b", HOST, "-x", HOST, "-P", "19404", f"-p{port}", HOST)
        )
        assert f"{HOST}:{port}" not in output, output
        assert kinds(world.events)[:2] == ["security.scanner", "security.banned"]


@pytest.fixture
async def shared_store():
    try:
        store = RedisCounterStore.from_url(redis_url(), prefix="test:security:workers")
        await store.client.flushdb()
    except redis.RedisError as error:
        pytest.skip(f"Redis at {redis_url()} is unreachable: {error}")
    yield redis_url()
    await store.client.flushdb()
    await store.close()


async def test_a_ban_made_by_one_worker_is_enforced_by_another_through_redis(shared_store):
    """Two workers (two endpoints, one Redis): svcrack is banned by the worker it attacked,
    and the other worker drops the same address within its refresh interval."""
    directory = MemoryDirectory()
    directory.add_domain(HOST)
    directory.add_account(account(customer(1), "100", HOST, hashes("100", PASSWORD, realm=HOST)))
    config = world_config(drop_scanners=False, ban=30.0)
    workers, stores, ports = [], [], []
    try:
        for name in ("worker-a", "worker-b"):
            store = RedisCounterStore.from_url(shared_store, prefix="test:security:workers")
            stores.append(store)
            worker = SipWorker(
                directory=directory,
                events=MemoryEventSink(),
                config=WorkerConfig(
                    worker_id=name,
                    default_domain=HOST,
                    nonce_secret=b"n" * 32,
                    dialplan_pool_size=1,
                    endpoint=FAST_TIMERS,
                    register_providers=False,
                    **config,
                ),
                counter_store=store,
            )
            workers.append(worker)
            [(_, _, port)] = await worker.start([("udp", HOST, 0)])
            ports.append(port)
        attacked, other = ports
        assert (await register_probe(other)).status == 401
        output = await run(
            "sipvicious_svcrack",
            *("-b", HOST, "-x", HOST, "-P", "19405", "-p", str(attacked)),
            *("-u", "100", "-r", "1000-1020", "--maximumtime", "2", HOST),
        )
        assert not cracked(output), output
        assert await register_probe(other, timeout=0.5) is None
        assert workers[1].security.gate.is_banned(Subject.source(HOST), workers[1].clock())
    finally:
        for worker in workers:
            await worker.close()
        for store in stores:
            await store.close()
