"""A SIPp flood against a running SIP worker with its security gate on (loopback not exempt).

Two SIPp processes (``sipp/flood_invite.xml``, ``sipp/flood_register.xml``) send INVITEs and
REGISTERs, each sent once and never waited for, at ``FLOOD_RATE`` per second each for
``FLOOD_SECONDS``: together about ten times what the worker sustains (docs/performance.md:
150 calls/s, 200 digest registrations/s). Afterwards a scriptable phone still registers and
places a call that is answered, the worker's resident memory has stayed within
``RSS_BOUND`` of what it was before the flood, its transaction table drains, and the flood
was reported as ``security.*`` events.

* From one source, with the gate's production defaults (50 requests/s, bursts of 200): the
  gate cuts the source to its rate and drops the rest as soon as it is parsed, before any
  transaction exists for it; ``security.flood`` is published once.
* With the rate limit lifted (``request_rate`` far above the flood): the flood reaches the
  worker as fast as it can read it, which is what a flood spread over many addresses does to
  it. The worker answers what it can and still keeps its memory and its answers to phones.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from sipcore.security import DropReason, GateConfig
from sipcore.testing import free_port
from sipcore.tests.phones import running_world

pytestmark = pytest.mark.real

HOST = "127.0.0.1"
PORTS = range(24000, 24500)
SCENARIOS = Path(__file__).parent / "sipp"
FLOOD_RATE = 1000
FLOOD_SECONDS = 10
RSS_BOUND = 96 * 1024 * 1024
"""How much the worker's process may grow during a flood of 20,000 requests. Measured on the
shared 2-core machine: 2 to 4 MiB with the gate cutting the source to its rate; about 61 MiB
with all of it reaching the worker (about 1,000 requests/s), whose server transactions live
until their timers end (64 x T1: 6.4 s with these test timers), and no more after a second
flood. The growth is rate x transaction lifetime: with the default T1 of 0.5 s the same
flood reaching the worker would hold five times as many transactions."""


def sipp() -> str:
    found = shutil.which("sipp")
    if found is None:
        pytest.skip("SIPp is not installed (apt-get install sip-tester)")
    return found


def rss() -> int:
    """This process's resident memory in bytes (the worker runs on its event loop)."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE")


@dataclass
class Flood:
    requests: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.requests / self.seconds


async def flood(scenario: str, port: int, local: int, control: int, *, log: Path) -> Flood:
    """Run one SIPp flood from ``local`` (``control`` for its control socket) to its end:
    ``FLOOD_RATE`` requests/s for ``FLOOD_SECONDS``."""
    count = FLOOD_RATE * FLOOD_SECONDS
    started = time.monotonic()
    with log.open("wb") as output:
        process = await asyncio.create_subprocess_exec(
            sipp(),
            *("-sf", str(SCENARIOS / scenario), f"{HOST}:{port}"),
            *("-i", HOST, "-p", str(local), "-cp", str(control), "-ci", HOST),
            *("-r", str(FLOOD_RATE), "-rp", "1000", "-m", str(count)),
            *("-nostdin", "-timeout", "60s", "-default_behaviors", "all,-abortunexp"),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=output,
        )
        try:
            code = await asyncio.wait_for(process.wait(), 90)
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
    assert code == 0, log.read_text(errors="replace")[-2000:]
    return Flood(count, time.monotonic() - started)


async def legitimate_traffic_is_served(world) -> None:
    """alice registers and calls bob, who answers; both from the scriptable phone."""
    alice = await world.phone("alice")
    bob = await world.phone("bob")
    call = await alice.call(f"sip:bob@{world.domain}")
    assert call.final is not None and call.final.status == 200, call.final
    assert (await call.bye()).status == 200
    await alice.close()
    await bob.close()


async def run_flood(world, tmp_path: Path) -> tuple[list[Flood], int]:
    """Both floods at once while the worker's memory is sampled; the floods and the peak."""
    port = world.addresses["udp"].port
    peak = rss()
    done = asyncio.Event()

    async def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, rss())
            await asyncio.sleep(0.1)

    # Both floods' ports chosen before either SIPp binds, so they cannot pick the same one.
    ports: list[int] = []
    for _ in range(4):
        ports.append(free_port(PORTS, port, *ports))
    sampler = asyncio.ensure_future(sample())
    try:
        floods = await asyncio.gather(
            flood("flood_invite.xml", port, *ports[:2], log=tmp_path / "invite.log"),
            flood("flood_register.xml", port, *ports[2:], log=tmp_path / "register.log"),
        )
    finally:
        done.set()
        await sampler
    return list(floods), peak


def flooded_config(gate: GateConfig) -> dict[str, object]:
    return {"domain": HOST, "security_gate": gate}


async def wait_for_transactions_to_end(world, timeout: float = 15.0) -> int:
    """The server transactions the flood made end with their timers; how many are left."""
    endpoint = world.worker.endpoint
    deadline = time.monotonic() + timeout
    while len(endpoint.layer) > 10 and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    return len(endpoint.layer)


async def test_a_flood_from_one_source_is_cut_to_its_rate_and_phones_are_served_after(tmp_path):
    async with running_world(**flooded_config(GateConfig(exempt_networks=()))) as world:
        world.add_account("alice")
        world.add_account("bob")
        await legitimate_traffic_is_served(world)  # warm: every code path has run once
        before = rss()
        floods, peak = await run_flood(world, tmp_path)

        assert all(f.rate >= FLOOD_RATE * 0.5 for f in floods), floods
        stats, gate = world.worker.security.gate.stats, world.worker.security.gate.config
        cut = stats.dropped[DropReason.RATE]
        longest = max(f.seconds for f in floods)
        # the source kept its rate and burst (and the warm-up's few requests); the rest of
        # what reached the worker was cut (on a busy machine some never left the socket buffer)
        assert stats.allowed <= gate.request_burst + gate.request_rate * longest + 20, stats
        assert cut > 10 * stats.allowed, stats
        assert peak - before < RSS_BOUND, (peak - before) / 2**20
        floods_seen = [e for e in world.events.events if e.kind == "security.flood"]
        assert [e.data["source"] for e in floods_seen] == [HOST]  # announced once

        await asyncio.sleep(0.5)  # the source's bucket refills: it is not banned, only cut
        await legitimate_traffic_is_served(world)
        assert await wait_for_transactions_to_end(world) <= 10
        assert rss() - before < RSS_BOUND


async def test_a_flood_that_all_reaches_the_worker_leaves_it_bounded_and_answering(tmp_path):
    """Two floods in a row: the first may grow the process (transactions live until their
    timers end, and CPython keeps freed memory), the second must not grow it again."""
    unlimited = GateConfig(exempt_networks=(), request_rate=1e6, request_burst=1e6)
    async with running_world(**flooded_config(unlimited)) as world:
        world.add_account("alice")
        world.add_account("bob")
        await legitimate_traffic_is_served(world)
        before = rss()
        peaks = []
        for _ in range(2):
            floods, peak = await run_flood(world, tmp_path)
            peaks.append(peak - before)
            assert all(f.rate >= FLOOD_RATE * 0.5 for f in floods), floods
            await legitimate_traffic_is_served(world)
            assert await wait_for_transactions_to_end(world) <= 10
        stats = world.worker.security.gate.stats
        assert stats.dropped[DropReason.RATE] == 0
        assert stats.allowed > FLOOD_RATE * FLOOD_SECONDS / 2  # the floods got in, not cut
        assert max(peaks) < RSS_BOUND, peaks
        assert peaks[1] - peaks[0] < RSS_BOUND / 4, peaks  # no growth from flood to flood
