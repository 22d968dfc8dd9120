"""The sandbox process: runs customers' Starlark dialplans, many at once, under hard limits.

Started by ``pool.py`` as ``python -m sipcore.dialplan.sandbox --memory BYTES --cpu SECONDS``.
It talks to the worker over stdin/stdout (``wire.py``); fd 1 is pointed at /dev/null so no
stray output can corrupt the protocol. Each evaluation runs on its own thread, because a
script blocks inside ``sys.Dial`` while its call rings; every ``sys.*`` call is a ``call``
message to the worker and the thread waits for the ``reply``. starlark-pyo3 keeps the GIL
while it runs, and threads take turns at its ``check_cancelled`` callbacks.

starlark has no memory limit, hence ``RLIMIT_AS``: a memory bomb either raises
``PanicException`` (a ``BaseException``: the sandbox reports itself tainted and the worker
retires it) or aborts the whole process (the worker replaces it). This module trusts nothing
the script passes: the worker validates every argument.
"""

from __future__ import annotations

import argparse
import itertools
import os
import resource
import sys
import threading
import time
from collections.abc import Callable
from typing import Any, BinaryIO

import starlark

from sipcore.dialplan import wire
from sipcore.dialplan.syntax import (
    dialect,
    expose_dynamic_properties,
    start_thread,
    validate_source,
)

EVALUATION_STACK_BYTES = 4 * 1024 * 1024
MAX_ARGUMENT_CHARS = 8192
MAX_ARGUMENTS = 8
MAX_ERROR_CHARS = 4000
_CLOCK_EVERY = 32  # check_cancelled runs ~100k times a second: read the clock less often

PRELUDE = """
sys = struct(
    Dial = _sys_dial,
    Respond = _sys_respond,
    Log = _sys_log,
    SetFromHeader = _sys_set_from_header,
    SetCustomSIPHeader = _sys_set_custom_sip_header,
    LastFailureStatus = _sys_last_failure_status,
    LastFailureReason = _sys_last_failure_reason,
    Out = _sys_info["out"],
    In = _sys_info["in"],
    Username = _sys_info["username"],
    DialPlanName = _sys_info["dialplan_name"],
)
req = struct(
    Method = _sip_call["method"],
    Body = _sip_call["body"],
    URI = struct(User = _sip_call["uri_user"], Host = _sip_call["uri_host"]),
    Header = struct(
        From = struct(
            FromName = _sip_call["from_name"],
            FromURI = struct(User = _sip_call["from_user"], Host = _sip_call["from_host"]),
            Value = _sip_call["from_header"],
        ),
        To = struct(
            ToName = _sip_call["to_name"],
            ToURI = struct(User = _sip_call["to_user"], Host = _sip_call["to_host"]),
            Value = _sip_call["to_header"],
        ),
    ),
)
"""


class DialplanFinished(Exception):
    """Raised into the script when a call was answered or a response sent: it ends here."""


class DialplanAborted(Exception):
    """Raised into the script when the worker gave up on the call."""


class DialplanCallError(Exception):
    """A ``sys.*`` call the worker refused (bad arguments)."""


class Channel:
    """The protocol pipe to the worker; any thread may send."""

    def __init__(self, output: BinaryIO) -> None:
        self._output = output
        self._lock = threading.Lock()

    def send(self, message: wire.Message) -> None:
        data = wire.encode(message)
        with self._lock:
            try:
                while data:
                    data = data[self._output.write(data) :]
            except OSError:
                os._exit(0)  # the worker is gone: nothing left to serve


class Evaluation:
    """One running script: its thread, its pending ``sys.*`` calls and its time budget."""

    def __init__(
        self, channel: Channel, message: wire.Message, on_end: Callable[[int], None]
    ) -> None:
        self.id: int = message["id"]
        self._channel = channel
        self._source: str = message["source"]
        self._sys_info: dict[str, Any] = message["sys"]
        self._call: dict[str, Any] = message["call"]
        self._script_seconds: float = message["script_seconds"]
        self._max_callstack: int = message["max_callstack"]
        self._on_end = on_end
        self._sequence = itertools.count(1)
        self._pending: dict[int, tuple[threading.Event, list[wire.Message]]] = {}
        self._lock = threading.Lock()
        self._finished = False
        self._aborted = False
        self._last_failure: tuple[int | None, str] = (None, "")
        self._ticks = 0
        self._started = 0.0

    def start(self) -> None:
        start_thread(
            self._run, name=f"dialplan-{self.id}", stack_bytes=EVALUATION_STACK_BYTES, daemon=True
        )

    def deliver(self, sequence: int, reply: wire.Message) -> None:
        with self._lock:
            pending = self._pending.pop(sequence, None)
        if pending is not None:
            pending[1].append(reply)
            pending[0].set()

    def abort(self) -> None:
        self._aborted = True
        with self._lock:
            waiting = list(self._pending.values())
            self._pending.clear()
        for event, _ in waiting:
            event.set()

    def _run(self) -> None:
        error: str | None = None
        tainted = False
        try:
            problem = validate_source(self._source)
            if problem is not None:
                error = f"syntax error at {problem}"
            else:
                self._evaluate()
        except starlark.StarlarkError as failure:
            error = self._describe(failure)
        except Exception as failure:
            error = f"the dialplan failed: {type(failure).__name__}: {failure}"
        except BaseException as failure:  # PanicException (out of memory) is a BaseException
            tainted = True
            error = f"the dialplan crashed the interpreter: {type(failure).__name__}: {failure}"
        self._channel.send(
            {
                "op": "done",
                "id": self.id,
                "error": None if error is None else error[:MAX_ERROR_CHARS],
                "tainted": tainted,
                "cpu": time.process_time(),
            }
        )
        self._on_end(self.id)

    def _evaluate(self) -> None:
        module = starlark.Module()
        module["_sys_info"] = self._sys_info
        module["_sip_call"] = self._call
        module.add_callable("_sys_dial", self._forward("dial"))
        module.add_callable("_sys_respond", self._forward("respond"))
        module.add_callable("_sys_log", self._forward("log"))
        module.add_callable("_sys_set_from_header", self._forward("set_from_header"))
        module.add_callable("_sys_set_custom_sip_header", self._forward("set_custom_header"))
        module.add_callable("_sys_last_failure_status", lambda: self._last_failure[0])
        module.add_callable("_sys_last_failure_reason", lambda: self._last_failure[1])
        library = starlark.Globals.extended_by([starlark.LibraryExtension.StructType])
        starlark.eval(module, starlark.parse("prelude", PRELUDE, dialect()), library)
        script = starlark.parse("dialplan", expose_dynamic_properties(self._source), dialect())
        options = starlark.EvalOptions(
            check_cancelled=self._cancelled, max_callstack_size=self._max_callstack
        )
        self._started = time.thread_time()
        starlark.eval_with(options, module, script, library)

    def _describe(self, failure: starlark.StarlarkError) -> str | None:
        if self._finished:
            return None
        if self._aborted:
            return "aborted: the call went away"
        if self._over_time():
            return f"the script ran longer than its limit of {self._script_seconds:g} s"
        return str(failure).strip().removeprefix("error: ")

    def _cancelled(self) -> bool:
        self._ticks += 1
        if self._finished or self._aborted:
            return True
        return self._ticks % _CLOCK_EVERY == 0 and self._over_time()

    def _over_time(self) -> bool:
        return time.thread_time() - self._started > self._script_seconds

    def _forward(self, name: str) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            return self._call_worker(name, args, kwargs)

        return call

    def _call_worker(self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if self._finished or self._aborted:
            raise DialplanFinished("the dialplan already ended")
        if len(args) + len(kwargs) > MAX_ARGUMENTS:
            raise DialplanCallError(f"too many arguments ({len(args) + len(kwargs)})")
        sequence = next(self._sequence)
        event = threading.Event()
        answer: list[wire.Message] = []
        with self._lock:
            self._pending[sequence] = (event, answer)
        self._channel.send(
            {
                "op": "call",
                "id": self.id,
                "seq": sequence,
                "name": name,
                "args": [_scalar(value) for value in args],
                "kwargs": {str(key): _scalar(value) for key, value in kwargs.items()},
            }
        )
        event.wait()
        if self._aborted or not answer:
            raise DialplanAborted("the call went away")
        reply = answer[0]
        if "last_failure" in reply:
            status, reason = reply["last_failure"]
            self._last_failure = (status, reason)
        if reply.get("error"):
            raise DialplanCallError(reply["error"])
        if reply.get("stop"):
            self._finished = True
            raise DialplanFinished("the call was answered or a response was sent")
        return reply.get("value")


def _scalar(value: Any) -> Any:
    """Arguments as the worker may see them: short strings, small numbers, None."""
    if value is None or isinstance(value, bool | float):
        return value
    if isinstance(value, int):
        return value if abs(value) < 2**53 else str(value)
    text = value if isinstance(value, str) else str(value)
    return text[:MAX_ARGUMENT_CHARS]


def serve(reader: BinaryIO, channel: Channel) -> None:
    """Read the worker's messages until it closes the pipe."""
    evaluations: dict[int, Evaluation] = {}
    lock = threading.Lock()

    def ended(evaluation_id: int) -> None:
        with lock:
            evaluations.pop(evaluation_id, None)

    while line := reader.readline(wire.MAX_LINE_BYTES):
        message = wire.decode(line)
        op = message["op"]
        if op == "ping":
            channel.send({"op": "pong", "seq": message.get("seq")})
            continue
        if op == "eval":
            evaluation = Evaluation(channel, message, ended)
            with lock:
                evaluations[evaluation.id] = evaluation
            try:
                evaluation.start()
            except RuntimeError as error:  # no room for another thread under RLIMIT_AS
                ended(evaluation.id)
                channel.send({"op": "done", "id": evaluation.id, "error": str(error)})
            continue
        with lock:
            target = evaluations.get(message.get("id", -1))
        if target is None:
            continue
        if op == "reply":
            target.deliver(message["seq"], message)
        elif op == "abort":
            target.abort()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--memory", type=int, required=True, help="RLIMIT_AS in bytes")
    parser.add_argument("--cpu", type=int, required=True, help="RLIMIT_CPU in seconds")
    options = parser.parse_args(argv)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_CPU, (options.cpu, options.cpu))
    resource.setrlimit(resource.RLIMIT_AS, (options.memory, options.memory))
    protocol_fd = os.dup(1)
    os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
    channel = Channel(os.fdopen(protocol_fd, "wb", buffering=0))
    channel.send({"op": "ready"})
    serve(sys.stdin.buffer, channel)
    os._exit(0)  # evaluation threads are daemons: the worker closed the pipe, so stop them


if __name__ == "__main__":
    main()
