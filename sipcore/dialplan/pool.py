"""The asyncio adapter: a pool of sandbox processes that run dialplans for the worker.

Each customer is pinned to one sandbox by a stable hash, so a tenant's memory bomb reaches
only the customers that share its sandbox, and only their in-flight scripts: a sandbox that
dies is replaced at once and its executions end with an error outcome (the caller sends 500).
A sandbox that reports itself tainted (a caught panic) or has used half its CPU allowance is
retired: new work goes to a fresh process and the old one closes when its scripts end. A
sandbox that stops answering pings (a builtin stuck with the GIL held) is killed.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import signal
import sys
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from sipcore.dialplan import wire
from sipcore.dialplan.dryrun import Action, Finished, RecordingHost
from sipcore.dialplan.execution import Execution
from sipcore.dialplan.model import (
    DialplanHost,
    DialplanOutcome,
    DialplanRequest,
    OutcomeKind,
    SandboxLimits,
)
from sipcore.dialplan.syntax import MAX_SOURCE_CHARS

logger = logging.getLogger(__name__)

DEFAULT_EXECUTIONS_PER_CUSTOMER = 5
_CLOSE_GRACE_SECONDS = 2.0
_START_SECONDS = 10.0
_PROJECT_ROOT = str(Path(__file__).resolve().parents[2])


@dataclass(slots=True)
class _Running:
    execution: Execution
    ended: asyncio.Future[tuple[str | None, bool]]
    calls: set[asyncio.Task[None]] = field(default_factory=set)


class _Sandbox:
    """One sandbox process and the executions it is running."""

    def __init__(
        self, process: asyncio.subprocess.Process, limits: SandboxLimits, pool: DialplanPool
    ) -> None:
        assert process.stdin is not None and process.stdout is not None
        self.process = process
        self._stdin = process.stdin
        self._stdout = process.stdout
        self._limits = limits
        self._pool = pool
        self._ids = itertools.count(1)
        self.running: dict[int, _Running] = {}
        self.capacity = asyncio.Semaphore(limits.evaluations_per_sandbox)
        self.retiring = False
        self._alive = True
        loop = asyncio.get_running_loop()
        self._last_heard = loop.time()
        self._reader = loop.create_task(self._read())
        self._watchdog = loop.create_task(self._watch())

    @classmethod
    async def spawn(cls, limits: SandboxLimits, pool: DialplanPool) -> _Sandbox:
        environment = dict(os.environ)
        environment["PYTHONPATH"] = os.pathsep.join(
            path for path in (_PROJECT_ROOT, environment.get("PYTHONPATH")) if path
        )
        environment["MALLOC_ARENA_MAX"] = "2"  # each arena reserves 64 MiB of RLIMIT_AS
        environment["RUST_BACKTRACE"] = "0"
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "sipcore.dialplan.sandbox",
            "--memory",
            str(limits.memory_bytes),
            "--cpu",
            str(limits.cpu_seconds),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
            env=environment,
            limit=wire.MAX_LINE_BYTES,
        )
        assert process.stdout is not None
        try:
            ready = wire.decode(await asyncio.wait_for(process.stdout.readline(), _START_SECONDS))
        except (TimeoutError, wire.WireError):
            ready = {"op": "failed"}
        if ready["op"] != "ready":
            await _reap(process)
            raise OSError(f"the dialplan sandbox {process.pid} did not start")
        return cls(process, limits, pool)

    async def evaluate(self, execution: Execution) -> DialplanOutcome:
        if not self._alive:
            return await execution.finish("the dialplan sandbox is not running")
        evaluation_id = next(self._ids)
        running = _Running(execution, asyncio.get_running_loop().create_future())
        self.running[evaluation_id] = running
        info, call = execution.sandbox_view()
        self._send(
            {
                "op": "eval",
                "id": evaluation_id,
                "source": execution.request.source,
                "sys": info,
                "call": call,
                "script_seconds": self._limits.script_seconds,
                "max_callstack": self._limits.max_callstack,
            }
        )
        try:
            error, tainted = await running.ended
        except asyncio.CancelledError:
            self._send({"op": "abort", "id": evaluation_id})
            raise
        finally:
            self._forget(evaluation_id)
        if tainted:
            self._pool.retire(self)
        return await execution.finish(error)

    async def close(self) -> None:
        self._alive = False
        self._pool.forget_retired(self)
        self._stdin.close()
        await _reap(self.process)
        self._fail_running("the dialplan sandbox was closed")
        await self._reader

    def kill(self) -> None:
        _kill(self.process)

    def _forget(self, evaluation_id: int) -> None:
        running = self.running.pop(evaluation_id, None)
        if running is not None:
            for task in running.calls:
                task.cancel()
        if self.retiring and not self.running:
            self._pool.spawn_background(self.close())

    def _send(self, message: wire.Message) -> None:
        if self._alive and not self._stdin.is_closing():
            self._stdin.write(wire.encode(message))

    async def _read(self) -> None:
        try:
            while line := await self._stdout.readline():
                self._last_heard = asyncio.get_running_loop().time()
                self._dispatch(wire.decode(line))
        except (ValueError, wire.WireError) as error:
            logger.error("dialplan sandbox %s spoke nonsense: %s", self.process.pid, error)
            self.kill()
        status = await _reap(self.process)
        if self._alive:
            self._alive = False
            logger.warning("dialplan sandbox %s stopped: %s", self.process.pid, _exit(status))
            self._fail_running(f"the dialplan sandbox stopped ({_exit(status)})")
            self._pool.replace(self)

    async def _watch(self) -> None:
        loop = asyncio.get_running_loop()
        interval = min(1.0, self._limits.stall_seconds / 4)
        for sequence in itertools.count():
            await asyncio.sleep(interval)
            if loop.time() - self._last_heard > self._limits.stall_seconds:
                logger.warning("dialplan sandbox %s stalled: killing it", self.process.pid)
                self.kill()
                return
            self._send({"op": "ping", "seq": sequence})

    def _fail_running(self, reason: str) -> None:
        self._watchdog.cancel()
        for running in list(self.running.values()):
            if not running.ended.done():
                running.ended.set_result((reason, False))

    def _dispatch(self, message: wire.Message) -> None:
        running = self.running.get(message.get("id", -1))
        if message["op"] == "done":
            if message.get("cpu", 0) > self._limits.cpu_seconds / 2:
                self._pool.retire(self)
            if running is not None and not running.ended.done():
                running.ended.set_result((message.get("error"), bool(message.get("tainted"))))
        elif message["op"] == "call" and running is not None:
            task = asyncio.get_running_loop().create_task(self._serve(message, running))
            running.calls.add(task)
            task.add_done_callback(running.calls.discard)

    async def _serve(self, message: wire.Message, running: _Running) -> None:
        name = str(message.get("name"))
        try:
            reply = await running.execution.handle(
                name, list(message.get("args", [])), dict(message.get("kwargs", {}))
            )
        except Exception:
            logger.exception("dialplan host failed in %s", name)
            reply = {"error": f"internal error in {name}"}
        self._send({"op": "reply", "id": message["id"], "seq": message["seq"], **reply})


class DialplanPool:
    """Runs dialplans in ``size`` sandbox processes; use ``async with DialplanPool(...)``."""

    def __init__(
        self,
        size: int = 2,
        *,
        limits: SandboxLimits | None = None,
        executions_per_customer: int = DEFAULT_EXECUTIONS_PER_CUSTOMER,
    ) -> None:
        if size < 1:
            raise ValueError("a dialplan pool needs at least one sandbox")
        self._size = size
        self._limits = limits or SandboxLimits()
        self._executions_per_customer = executions_per_customer
        self._slots: list[asyncio.Task[_Sandbox]] = []
        self._active: dict[str, int] = {}
        self._background: set[asyncio.Task[Any]] = set()
        self._retired: set[_Sandbox] = set()
        self._closed = False

    async def __aenter__(self) -> DialplanPool:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    async def start(self) -> None:
        self._slots = [self._spawn() for _ in range(self._size)]
        await asyncio.gather(*self._slots)

    async def close(self) -> None:
        self._closed = True
        sandboxes = await asyncio.gather(*self._slots, return_exceptions=True)
        current = {sandbox for sandbox in sandboxes if isinstance(sandbox, _Sandbox)}
        await asyncio.gather(*(sandbox.close() for sandbox in current | self._retired))
        await asyncio.gather(*self._background, return_exceptions=True)

    async def sandbox_pids(self) -> list[int]:
        """Process ids of the current sandboxes, slot by slot (for monitoring and tests)."""
        return [(await slot).process.pid for slot in self._slots]

    async def run(self, request: DialplanRequest, host: DialplanHost) -> DialplanOutcome:
        """Run ``request``'s script; every ``sys.*`` call it makes goes to ``host``."""
        if self._closed or not self._slots:
            raise RuntimeError("the dialplan pool is not running")
        if len(request.source) > MAX_SOURCE_CHARS:
            return await Execution(request, host).finish(
                f"the dialplan is longer than {MAX_SOURCE_CHARS} characters"
            )
        customer = str(request.customer_id)
        limit = self.execution_limit(request.execution_limit)
        if self.active_executions(customer) >= limit:
            return DialplanOutcome(
                kind=OutcomeKind.LIMITED,
                status=480,
                reason="Too Many Dialplan Executions",
                error=f"customer {customer} already runs {limit} dialplans",
            )
        self._active[customer] = self._active.get(customer, 0) + 1
        try:
            execution = Execution(request, host)
            sandbox = await self._sandbox_for(customer)
            if sandbox is None:
                return await execution.finish("no dialplan sandbox could be started")
            try:
                await asyncio.wait_for(sandbox.capacity.acquire(), self._limits.queue_seconds)
            except TimeoutError:
                return DialplanOutcome(
                    kind=OutcomeKind.OVERLOADED, status=503, reason="Dialplan Sandbox Busy"
                )
            try:
                return await sandbox.evaluate(execution)
            finally:
                sandbox.capacity.release()
        finally:
            self._active[customer] -= 1
            if not self._active[customer]:
                del self._active[customer]

    def active_executions(self, customer_id: str | int) -> int:
        """How many of the customer's dialplans run now (the count ``run`` limits)."""
        return self._active.get(str(customer_id), 0)

    def execution_limit(self, customer_limit: int | None) -> int:
        """The limit ``run`` applies to a customer whose own limit is ``customer_limit``."""
        return customer_limit or self._executions_per_customer

    async def dry_run(self, request: DialplanRequest, scripted_outcomes: list[str]) -> list[Action]:
        """Run the script with no call placed: each Dial gets the next scripted outcome.

        Returns the actions the script took, ending with ``Finished(outcome)``.
        """
        host = RecordingHost(scripted_outcomes)
        outcome = await self.run(request, host)
        return [*host.actions, Finished(outcome=outcome)]

    def retire(self, sandbox: _Sandbox) -> None:
        """Send new work to a fresh sandbox; ``sandbox`` closes once its scripts end."""
        if sandbox.retiring:
            return
        sandbox.retiring = True
        self._retired.add(sandbox)
        self.replace(sandbox)
        if not sandbox.running:
            self.spawn_background(sandbox.close())

    def forget_retired(self, sandbox: _Sandbox) -> None:
        self._retired.discard(sandbox)

    def replace(self, sandbox: _Sandbox) -> None:
        """Put a new sandbox in the slot ``sandbox`` held, if it still holds it."""
        if self._closed:
            return
        for index, slot in enumerate(self._slots):
            if _finished_with(slot) is sandbox:
                self._slots[index] = self._spawn()

    async def _sandbox_for(self, customer: str) -> _Sandbox | None:
        index = self.slot_of(customer)
        if self._slots[index].done() and _finished_with(self._slots[index]) is None:
            self._slots[index] = self._spawn()  # the last start failed: try again
        try:
            return await self._slots[index]
        except OSError:
            logger.exception("cannot start a dialplan sandbox")
            return None

    def _spawn(self) -> asyncio.Task[_Sandbox]:
        return asyncio.get_running_loop().create_task(_Sandbox.spawn(self._limits, self))

    def spawn_background(self, coroutine: Any) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def slot_of(self, customer_id: str | int) -> int:
        """The sandbox slot a customer's dialplans run in (stable across restarts)."""
        return zlib.crc32(str(customer_id).encode()) % self._size


def _kill(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            process.kill()


async def _reap(process: asyncio.subprocess.Process) -> int:
    """Wait for the exit; kill only a process that lingers (a kill reaps an exited child
    behind asyncio's back, and its exit status is lost)."""
    try:
        return await asyncio.wait_for(process.wait(), _CLOSE_GRACE_SECONDS)
    except TimeoutError:
        _kill(process)
        return await process.wait()


def _finished_with(slot: asyncio.Task[_Sandbox]) -> _Sandbox | None:
    """The sandbox a slot's start produced, or None if it is still starting or failed."""
    if not slot.done() or slot.cancelled() or slot.exception() is not None:
        return None
    return slot.result()


def _exit(status: int) -> str:
    if status < 0:
        with contextlib.suppress(ValueError):
            return f"killed by {signal.Signals(-status).name}"
    return f"exit status {status}"
