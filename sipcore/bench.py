"""`python -m sipcore.bench`: parser/serialiser speed and OPTIONS transactions per second.

The transaction figure is end to end over loopback UDP: a UAS endpoint in a child process
(answering OPTIONS with 200 through a real server transaction) and a client endpoint here keeping
a window of OPTIONS transactions in flight, both on uvloop when it is installed. Each side is one
process on one core; the report also gives the UAS's own CPU time per transaction, which is the
"per core" cost independent of how the two processes share the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import subprocess
import sys
import time

from sipcore.endpoint import Endpoint
from sipcore.message import Request, new_call_id, new_tag
from sipcore.transport import Peer

DEFAULT_PORT = 15990


def _install_uvloop() -> str:
    try:
        import uvloop
    except ImportError:
        return "asyncio"
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    return "uvloop"


async def _serve(port: int) -> None:
    endpoint = Endpoint()
    endpoint.on_request = lambda request, handle: handle.reply(200)
    await endpoint.listen("udp", "127.0.0.1", port)
    print("ready", flush=True)
    cpu_at_start = time.process_time()
    try:
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    finally:
        print(f"{time.process_time() - cpu_at_start:.6f}", flush=True)
        await endpoint.close()


def _options(target: Peer, seq: int, call_id: str, tag: str) -> Request:
    return Request(
        "OPTIONS",
        f"sip:bench@{target.hostport}",
        [
            ("From", f"<sip:load@127.0.0.1>;tag={tag}"),
            ("To", f"<sip:bench@{target.hostport}>"),
            ("Call-ID", call_id),
            ("CSeq", f"{seq} OPTIONS"),
        ],
    )


async def _load(target: Peer, seconds: float, window: int) -> tuple[int, int, float]:
    """Keep `window` OPTIONS in flight for `seconds`; (completed 200s, failures, elapsed)."""
    endpoint = Endpoint()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    completed = failed = 0

    async def worker() -> None:
        nonlocal completed, failed
        call_id, tag, seq = new_call_id(), new_tag(), 0
        while loop.time() < deadline:
            seq += 1
            response = await endpoint.send_request(_options(target, seq, call_id, tag), target)
            if response.status == 200:
                completed += 1
            else:
                failed += 1

    start = loop.time()
    try:
        await asyncio.gather(*(worker() for _ in range(window)))
    finally:
        await endpoint.close()
    return completed, failed, loop.time() - start


async def _load_against_local_uas(port: int, seconds: float, window: int) -> tuple[int, int, float]:
    """Client and UAS on one event loop: both halves of every transaction on one core."""
    uas = Endpoint()
    uas.on_request = lambda request, handle: handle.reply(200)
    try:
        target = await uas.listen("udp", "127.0.0.1", port)
        return await _load(target, seconds, window)
    finally:
        await uas.close()


def run_single_core_bench(seconds: float, window: int, port: int) -> dict[str, float]:
    """Transactions/s with client and UAS sharing one process, so one core does all the work."""
    cpu_before = time.process_time()
    completed, failed, elapsed = asyncio.run(_load_against_local_uas(port, seconds, window))
    cpu = time.process_time() - cpu_before
    return {
        "completed": completed,
        "failed": failed,
        "elapsed_s": elapsed,
        "transactions_per_s": completed / elapsed,
        "cpu_s": cpu,
        "transactions_per_cpu_s": completed / cpu if cpu else 0.0,
    }


def run_transaction_bench(seconds: float, window: int, port: int) -> dict[str, float]:
    """Run the UAS child and the load; return transactions/s and the UAS CPU per transaction."""
    command = [sys.executable, "-m", "sipcore.bench", "--serve", str(port)]
    child = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdin is not None
        if child.stdout.readline().strip() != "ready":
            raise RuntimeError("the benchmark UAS did not start")
        client_before = time.process_time()
        completed, failed, elapsed = asyncio.run(
            _load(Peer("udp", "127.0.0.1", port), seconds, window)
        )
        client_cpu = time.process_time() - client_before
        child.stdin.close()
        uas_cpu = float(child.stdout.readline())  # the UAS's CPU time while under load
        child.wait(10)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    return {
        "completed": completed,
        "failed": failed,
        "elapsed_s": elapsed,
        "transactions_per_s": completed / elapsed,
        "uas_cpu_s": uas_cpu,
        "client_cpu_s": client_cpu,
        "uas_transactions_per_cpu_s": completed / uas_cpu if uas_cpu else 0.0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description="sipcore benchmark")
    parser.add_argument("--seconds", type=float, default=5.0, help="load duration")
    parser.add_argument("--window", type=int, default=64, help="OPTIONS in flight")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="UAS UDP port")
    parser.add_argument("--serve", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    loop_name = _install_uvloop()
    if args.serve is not None:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(_serve(args.serve))
        return
    print(
        f"sipcore benchmark ({loop_name}, Python {sys.version.split()[0]}, {os.cpu_count()} CPUs)"
    )
    try:
        from sipcore.bench_parse import run_parse_bench
    except ImportError:
        print("message parsing: sipcore.bench_parse not available")
    else:
        figures = run_parse_bench()
        print(f"typical INVITE ({figures['invite_bytes']:.0f} bytes):")
        print(f"  parsed (lazy)          {figures['parsed_per_s']:>10,.0f} /s")
        print(f"  parsed and read        {figures['parsed_and_read_per_s']:>10,.0f} /s")
        print(f"  ... nothing remembered {figures['first_parsed_and_read_per_s']:>10,.0f} /s")
        print(f"  serialised             {figures['serialised_per_s']:>10,.0f} /s")
    started = time.perf_counter()
    print(
        f"OPTIONS transactions over loopback UDP"
        f" ({args.window} in flight, {args.seconds:g} s each):"
    )
    single = run_single_core_bench(args.seconds, args.window, args.port)
    print(
        f"  client + UAS in one process (one core): {single['transactions_per_s']:>8,.0f} /s"
        f"  ({single['completed']:,.0f} done, {single['failed']:.0f} failed,"
        f" {single['cpu_s']:.2f} CPU s in {single['elapsed_s']:.2f} s)"
    )
    print(f"  ... per CPU second of that process:     {single['transactions_per_cpu_s']:>8,.0f} /s")
    split = run_transaction_bench(args.seconds, args.window, args.port)
    print(
        f"  UAS in its own process, end to end:     {split['transactions_per_s']:>8,.0f} /s"
        f"  ({split['completed']:,.0f} done, {split['failed']:.0f} failed)"
    )
    print(
        f"  that UAS per CPU second (per core):     {split['uas_transactions_per_cpu_s']:>8,.0f} /s"
        f"  (UAS {split['uas_cpu_s']:.2f} CPU s, client {split['client_cpu_s']:.2f} CPU s)"
    )
    print(f"total {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
