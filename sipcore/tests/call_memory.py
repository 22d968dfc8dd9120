"""Worker memory held per established call, measured deterministically in-process.

A SipWorker (``running_world``) runs in this process under ``tracemalloc``; the phones run in
a child process, so nothing they allocate is counted. The caller ``alice`` places ``calls``
calls to ``bob`` at once (each digest-challenged, forked to bob's binding and answered);
once every call is established and acknowledged, the memory the worker's process gained
since before the first INVITE, divided by ``calls``, is the retained memory per call (the
figure the bench takes from resident memory, without the allocator's and the phones' noise).
Then every call is hung up and the worker must return to no active calls.

``python -m sipcore.tests.call_memory [--calls 1000]`` prints the figures.

Since 2026-11-26 the parsed-value memo keeps texts unique to one dialogue (tags, Via
branches) in small caches of their own, so "retained" no longer counts a few megabytes of
values no later call reads; "held" still sets the memo aside entirely.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import multiprocessing
import tracemalloc
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from sipcore.endpoint import Endpoint, EndpointConfig
from sipcore.events import LiveEvent, MemoryEventSink
from sipcore.message.memo import forget_all
from sipcore.tests.phones import DOMAIN, PASSWORD, Phone, running_world
from sipcore.transport import Peer
from sipcore.worker import SipWorker

BATCH = 20
"""Calls placed at once by the phones' process (its one endpoint answers them all)."""


@dataclass(frozen=True)
class CallMemory:
    calls: int
    retained_bytes: int
    """What the worker's process held more with every call up than before the first one."""
    held_by_calls_bytes: int
    """The same without the parsed-value memo (``sipcore.message.memo``), which keeps up to
    a fixed number of recent values whether or not a call still holds them."""

    @property
    def per_call_kib(self) -> float:
        return self.retained_bytes / self.calls / 1024

    @property
    def held_per_call_kib(self) -> float:
        return self.held_by_calls_bytes / self.calls / 1024


class _Discarding(MemoryEventSink):
    """Events and call details go nowhere, as they leave a production worker (the test
    sink keeps every one, which would count as memory the calls hold)."""

    def publish(self, event: LiveEvent) -> None:
        pass

    def record_call_detail(self, payload: Mapping[str, Any]) -> None:
        pass


def _phones(server: tuple[str, str, int], calls: int, conn: Connection) -> None:
    asyncio.run(_run_phones(Peer(*server), calls, conn))  # type: ignore[arg-type]


async def _run_phones(server: Peer, calls: int, conn: Connection) -> None:
    loop = asyncio.get_running_loop()
    phones = []
    for user in ("bob", "alice"):
        # RFC 3261's own timers, not the tests' short ones: a worker slowed by tracing on
        # a busy machine must not make a phone give up on its INVITE (408).
        endpoint = Endpoint(EndpointConfig())
        local = await endpoint.listen("udp", "127.0.0.1", 0)
        phone = Phone(endpoint, local, user, DOMAIN, PASSWORD)
        endpoint.on_request = phone._on_request
        phone.server = server
        phone.ring_delay = 0.0
        phones.append(phone)
        response = await phone.register()
        assert response.status == 200, response
    bob, alice = phones
    try:
        conn.send("registered")
        placed = []
        for start in range(0, calls, BATCH):
            batch = [alice.call(f"sip:bob@{DOMAIN}") for _ in range(min(BATCH, calls - start))]
            placed += await asyncio.gather(*batch)
        failed = [call.final.status for call in placed if call.final.status != 200]
        while not failed and not (
            len(bob.calls) == calls and all(call.acked.is_set() for call in bob.calls)
        ):
            await asyncio.sleep(0.05)
        conn.send(failed or "established")
        await loop.run_in_executor(None, conn.recv)
        for start in range(0, calls, BATCH):
            await asyncio.gather(*(call.bye() for call in placed[start : start + BATCH]))
        conn.send("hung up")
    finally:
        for phone in phones:
            await phone.close()


async def _receive(conn: Connection) -> object:
    return await asyncio.get_running_loop().run_in_executor(None, conn.recv)


async def measure_call_memory(
    calls: int, *, settle: float = 0.5, inspect: Callable[[SipWorker], None] | None = None
) -> CallMemory:
    """The worker's retained memory with ``calls`` established calls (see the module);
    ``inspect`` is given the worker once measured, every call still up."""
    async with running_world(events=_Discarding()) as world:
        world.add_account("alice")
        world.add_account("bob")
        parent, child = multiprocessing.get_context("spawn").Pipe()
        address = world.addresses["udp"]
        process = multiprocessing.get_context("spawn").Process(
            target=_phones, args=((address.transport, address.host, address.port), calls, child)
        )
        process.start()
        try:
            assert await asyncio.wait_for(_receive(parent), 60) == "registered"
            gc.collect()
            tracemalloc.start()
            try:
                before = tracemalloc.get_traced_memory()[0]
                status = await asyncio.wait_for(_receive(parent), 300)
                assert status == "established", f"calls failed: {status}"
                await world.settle(lambda: world.worker.active_calls == calls, 30)
                # Let the INVITE transactions' timers run out, as they have on a worker
                # holding calls for minutes (the bench's figure).
                await asyncio.sleep(settle)
                gc.collect()
                retained = tracemalloc.get_traced_memory()[0] - before
                forget_all()
                gc.collect()
                held = tracemalloc.get_traced_memory()[0] - before
            finally:
                tracemalloc.stop()
            if inspect is not None:
                inspect(world.worker)
            parent.send("hang up")
            assert await asyncio.wait_for(_receive(parent), 300) == "hung up"
            await world.settle(lambda: world.worker.active_calls == 0, 30)
        finally:
            process.join(30)
            if process.is_alive():
                process.kill()
    return CallMemory(calls=calls, retained_bytes=retained, held_by_calls_bytes=held)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--settle", type=float, default=1.0, help="seconds after the answers")
    args = parser.parse_args()
    figure = asyncio.run(measure_call_memory(args.calls, settle=args.settle))
    print(
        f"{figure.calls} calls: {figure.per_call_kib:.2f} KiB retained per call, "
        f"{figure.held_per_call_kib:.2f} KiB held by the calls themselves (memo emptied)"
    )


if __name__ == "__main__":
    main()
