"""The values that cross the dialplan runtime's boundary, and the host the worker implements.

The SIP worker hands a ``DialplanRequest`` and a ``DialplanHost`` to the pool and gets a
``DialplanOutcome`` back; each ``sys.*`` call of the script becomes one host call.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from sipcore.dialstring import DialPlanString

DEFAULT_RING_TIMEOUT = 180
"""Seconds a Dial rings when the script gives no ring_timeout; also the cap (DESIGN.md)."""


class Direction(StrEnum):
    IN = "in"  # a call to one of the customer's accounts
    OUT = "out"  # a call placed by one of the customer's accounts


class DialResultName(StrEnum):
    """What ``sys.Dial`` returns to the script."""

    ANSWERED = "Answered"
    NO_ANSWER = "NoAnswer"
    FAILED = "Failed"
    BUSY = "Busy"
    CANCELLED = "Cancelled"
    TIMED_OUT = "TimedOut"
    ERROR = "Error"
    BLOCKED = "Blocked"


@dataclass(frozen=True, slots=True, kw_only=True)
class DialResult:
    """A finished Dial: ``status``/``reason`` become sys.LastFailureStatus/Reason on failure."""

    name: DialResultName
    status: int | None = None
    reason: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class CallContext:
    """The call a dialplan runs for, as ``sys`` and ``req`` show it to the script."""

    direction: Direction
    username: str  # the SIP account the dialplan belongs to (sys.Username)
    uri_user: str  # the called user: req.URI.User, ${dst}
    uri_host: str
    from_name: str = ""
    from_user: str = ""
    from_host: str = ""
    from_header: str = ""  # the From header as received
    to_name: str = ""
    to_user: str = ""
    to_host: str = ""
    to_header: str = ""
    method: str = "INVITE"
    body: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class DialplanRequest:
    customer_id: str | int
    dialplan_name: str
    source: str
    call: CallContext
    execution_limit: int | None = None  # the customer's concurrent executions; None: pool default


class OutcomeKind(StrEnum):
    ANSWERED = "answered"  # a Dial was answered: the call is up
    RESPONDED = "responded"  # the script called sys.Respond
    FINISHED = "finished"  # the script ended without an answer or a response
    LIMITED = "limited"  # the customer's concurrent execution limit was reached
    OVERLOADED = "overloaded"  # the sandbox serving this customer is full
    ERROR = "error"  # script error, time limit, dead sandbox


@dataclass(frozen=True, slots=True, kw_only=True)
class DialplanOutcome:
    """How an execution ended. ``status``/``reason``: the final response the caller should get
    (None when a call was answered)."""

    kind: OutcomeKind
    status: int | None
    reason: str
    error: str | None = None


class DialplanHost(Protocol):
    """What a running dialplan may do to its call; implemented by the SIP worker."""

    async def dial(
        self, dialstring: DialPlanString, ring_timeout: int, answered_limit: int | None
    ) -> DialResult: ...

    async def respond(self, code: int, reason: str) -> None: ...

    async def log(self, text: str) -> None: ...

    def set_from_header(self, name: str | None, user: str | None, host: str | None) -> None: ...

    def set_custom_header(self, name: str, value: str) -> None: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class SandboxLimits:
    """Resource limits of each sandbox process and of each evaluation in it.

    ``memory_bytes`` is address space, not resident memory: an idle sandbox takes ~40 MiB
    and each concurrent evaluation ~7 MiB (mostly its thread's stack), so 64 evaluations
    reserve ~460 MiB before their scripts allocate anything.
    """

    memory_bytes: int = 1024 * 1024 * 1024  # RLIMIT_AS of a sandbox process
    cpu_seconds: int = 3600  # RLIMIT_CPU of a sandbox process; it is retired at half of this
    script_seconds: float = 10.0  # CPU time per evaluation, time inside sys.* calls excluded
    max_callstack: int = 64  # Starlark call depth: stops runaway recursion
    evaluations_per_sandbox: int = 64  # concurrent evaluations (threads) in one sandbox
    queue_seconds: float = 5.0  # how long an execution waits for a free place in its sandbox
    stall_seconds: float = 30.0  # a sandbox silent this long is killed and replaced
