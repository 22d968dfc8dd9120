"""`python -m sipcore.bench_transfer`: server-side blind transfers per second and the time
from REFER to final NOTIFY.

A SipWorker in a child process (accounts, the `transfer` dialplan and the events in memory:
no database, no Redis) and scriptable sipcore phones here, over loopback UDP. Each of
`--concurrent` loops repeats one whole transfer for `--seconds`: alice calls bob-N, who
answers; bob-N sends a REFER to carol (`tr=c`: the worker runs the owner's `transfer`
dialplan, invites carol without an offer, re-INVITEs alice with carol's offer, NOTIFYs bob-N
`200` and hangs bob-N up); then alice hangs up on carol. Printed: transfers completed per
second (each includes its own call set-up and hang-up), the median and 90th percentile of
REFER sent to final NOTIFY received, and the CPU time per transfer of the worker with its
dialplan sandboxes (which does not depend on how the processes share the machine) and of the
phones driving it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from sipcore.directory import TransferPolicy
from sipcore.endpoint import ServerTransactionHandle
from sipcore.memory_directory import customer
from sipcore.message import Request
from sipcore.tests.phones import DOMAIN, PASSWORD, Phone, PhoneCall, running_world
from sipcore.transfer.subscription import parse_sipfrag
from sipcore.transport import Peer

TRANSFER_DIALPLAN = 'sys.Dial("${dst}@local")\n'


def _install_uvloop() -> None:
    with contextlib.suppress(ImportError):
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


# the worker (child process) -------------------------------------------------------------------


async def _serve(transferors: int) -> None:
    """Run a worker until stdin closes; print its port first and its CPU seconds last."""
    async with running_world(dialplan_pool_size=2) as world:
        owner = customer(1, max_concurrent_executions=10_000)
        world.add_account("alice", owner=owner)
        world.add_account("carol", owner=owner)
        for index in range(transferors):
            world.add_account(
                f"bob-{index}",
                owner=owner,
                transfer_policy=TransferPolicy(value="c", source="account"),
            )
        world.directory.add_dialplan(1, "transfer", TRANSFER_DIALPLAN)
        pool = world.worker.pool
        sandboxes = await pool.sandbox_pids() if pool is not None else []
        print(f"ready {world.addresses['udp'].port}", flush=True)
        cpu_at_start = time.process_time() + _cpu_seconds(sandboxes)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
        cpu = time.process_time() + _cpu_seconds(sandboxes) - cpu_at_start
        print(f"{cpu:.6f}", flush=True)


def _cpu_seconds(pids: list[int]) -> float:
    """CPU time so far of other processes (the worker's dialplan sandboxes), from /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / ticks
    return total


# the phones (this process) --------------------------------------------------------------------


@dataclass
class _Results:
    completed: int = 0
    failed: int = 0
    notify_ms: list[float] = field(default_factory=list)


class _Transferor:
    """bob-N: answers alice's call, REFERs her to carol and waits for the final NOTIFY."""

    def __init__(self, phone: Phone) -> None:
        self.phone = phone
        self._finals: dict[str, asyncio.Future[int]] = {}
        handler = phone.endpoint.on_request
        assert handler is not None

        async def on_request(request: Request, handle: ServerTransactionHandle | None) -> None:
            await handler(request, handle)  # type: ignore[misc]
            state = request.headers.get("Subscription-State") or ""
            waiter = self._finals.get(request.call_id)
            if request.method == "NOTIFY" and state.startswith("terminated") and waiter:
                frag = parse_sipfrag(request.body)
                if not waiter.done():
                    waiter.set_result(frag[0] if frag else 0)

        phone.endpoint.on_request = on_request

    async def transfer(self, call: PhoneCall, timeout: float) -> tuple[int, float]:
        """REFER ``call`` to carol; (final NOTIFY status, seconds from REFER to it)."""
        assert call.dialog is not None
        waiter = asyncio.get_running_loop().create_future()
        self._finals[call.invite.call_id] = waiter
        refer = call.dialog.create_request("REFER", headers=[("Refer-To", f"<sip:carol@{DOMAIN}>")])
        started = time.perf_counter()
        try:
            response = await self.phone.endpoint.send_request(refer, call.peer)
            if response.status >= 300:
                return response.status, time.perf_counter() - started
            async with asyncio.timeout(timeout):
                status = await waiter
            return status, time.perf_counter() - started
        finally:
            self._finals.pop(call.invite.call_id, None)


async def _loop(alice: Phone, bob: _Transferor, deadline: float, results: _Results) -> None:
    loop = asyncio.get_running_loop()
    while loop.time() < deadline:
        try:
            async with asyncio.timeout(30):
                outgoing = await alice.call(f"sip:{bob.phone.user}@{DOMAIN}")
                if outgoing.final is None or outgoing.final.status != 200:
                    results.failed += 1
                    continue
                incoming = await bob.phone.incoming.get()
                await incoming.acked.wait()
                status, seconds = await bob.transfer(incoming, timeout=20)
                if status == 200:
                    results.completed += 1
                    results.notify_ms.append(seconds * 1000)
                else:
                    results.failed += 1
                await outgoing.bye()
        except (TimeoutError, OSError):
            results.failed += 1


async def _load(port: int, concurrent: int, seconds: float) -> tuple[_Results, float]:
    server = Peer("udp", "127.0.0.1", port)
    phones: list[Phone] = []

    async def phone(user: str) -> Phone:
        started = await Phone.start(user=user, domain=DOMAIN, password=PASSWORD, server=server)
        started.ring_delay = 0.0  # answer at once: the times are the server's
        phones.append(started)
        response = await started.register()
        if response.status != 200:
            raise RuntimeError(f"{user} could not register: {response.status}")
        return started

    try:
        alice = await phone("alice")
        await phone("carol")
        transferors = [_Transferor(await phone(f"bob-{i}")) for i in range(concurrent)]
        results = _Results()
        loop = asyncio.get_running_loop()
        started = loop.time()
        await asyncio.gather(
            *(_loop(alice, bob, started + seconds, results) for bob in transferors)
        )
        return results, loop.time() - started
    finally:
        for each in phones:
            await each.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--concurrent", type=int, default=8)
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    _install_uvloop()
    if args.serve is not None:
        asyncio.run(_serve(args.serve))
        return
    child = subprocess.Popen(
        [sys.executable, "-m", "sipcore.bench_transfer", "--serve", str(args.concurrent)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdin is not None and child.stdout is not None
    try:
        ready = child.stdout.readline().split()
        if ready[:1] != ["ready"]:
            raise RuntimeError("the worker did not start")
        phones_cpu = time.process_time()
        results, elapsed = asyncio.run(_load(int(ready[1]), args.concurrent, args.seconds))
        phones_cpu = time.process_time() - phones_cpu
        child.stdin.close()
        worker_cpu = float(child.stdout.readline())
    finally:
        if child.poll() is None:
            child.stdin.close()
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
    _report(results, elapsed, worker_cpu, phones_cpu, args.concurrent)


def _report(
    results: _Results, elapsed: float, worker_cpu: float, phones_cpu: float, concurrent: int
) -> None:
    done = results.completed
    times = sorted(results.notify_ms)
    median = statistics.median(times) if times else float("nan")
    p90 = times[int(0.9 * (len(times) - 1))] if times else float("nan")

    def per_transfer(seconds: float) -> float:
        return seconds / done * 1000 if done else float("nan")

    print(
        f"blind transfers (tr=c), {concurrent} in flight: {done / elapsed:,.1f} completed/s "
        f"({done} in {elapsed:.1f} s, {results.failed} failed); REFER to final NOTIFY "
        f"median {median:.1f} ms, p90 {p90:.1f} ms; CPU per transfer: worker "
        f"{per_transfer(worker_cpu):.1f} ms, phones {per_transfer(phones_cpu):.1f} ms"
    )


if __name__ == "__main__":
    main()
