"""The engine shared by the four transaction kinds: run table transitions and timers.

A ``Transaction`` owns its state, its running timers (absolute deadlines on the
caller's clock) and, while its state may still send it, the request that created
it. Subclasses name their table (``machine``) and carry out the message effects
(``_perform``); everything else—which effects run, in which order, which timers
start or stop—comes from ``tables.py``.
"""

from __future__ import annotations

import sys
from typing import ClassVar

from sipcore.errors import LocalProtocolError
from sipcore.message import Request, Response
from sipcore.transaction.actions import (
    Action,
    DeliverRequest,
    DeliverResponse,
    Terminated,
    TimedOut,
    TransportError,
)
from sipcore.transaction.tables import (
    MACHINES,
    Effect,
    Input,
    Start,
    State,
    Stop,
    Transition,
    lookup,
)
from sipcore.transaction.timers import RETRANSMISSION_TIMERS, Timer, TimerConfig

Trigger = Request | Response | None
"""The message that caused a transition (None for timers and transport errors)."""

_TIMER_ORDER = {timer: index for index, timer in enumerate(Timer)}


class Transaction:
    """One transaction's state machine, driven by inputs and an injected clock.

    The clock is the caller's: every method that may start or fire a timer takes
    ``now`` (seconds, any monotonic origin). ``next_deadline()`` says when
    ``on_timer(now)`` must next be called; calling it early is harmless.
    """

    machine: ClassVar[str]
    request_states: ClassVar[frozenset[State]]
    """The states in which the transaction may still send its request or answer with it."""
    # Slots, and no message kept longer than needed: an INVITE transaction outlives its 2xx
    # by 64·T1 (RFC 6026), so a worker taking many calls a second holds thousands.
    __slots__ = ("_deadlines", "_intervals", "config", "method", "reliable", "request", "state")

    def __init__(self, request: Request, *, reliable: bool, config: TimerConfig) -> None:
        self.request: Request | None = request
        """The request, until the state leaves ``request_states`` (then None): retransmissions
        are matched by the layer's key, not by the request."""
        self.method = sys.intern(request.method)
        self.reliable = reliable
        self.config = config
        self.state = MACHINES[self.machine][0].target
        self._deadlines: dict[Timer, float] = {}
        self._intervals: dict[Timer, float] = {}

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.method} {self.state.value}>"

    @property
    def terminated(self) -> bool:
        return self.state is State.TERMINATED

    def timers(self) -> dict[Timer, float]:
        """The running timers and their absolute deadlines (a copy, for inspection)."""
        return dict(self._deadlines)

    def next_deadline(self) -> float | None:
        """The earliest running timer's deadline, or None when no timer runs."""
        return min(self._deadlines.values(), default=None)

    def on_timer(self, now: float) -> list[Action]:
        """Fire every timer due at ``now``, earliest first, and return the actions."""
        actions: list[Action] = []
        while not self.terminated:
            due = [
                (deadline, _TIMER_ORDER[timer], timer)
                for timer, deadline in self._deadlines.items()
                if deadline <= now
            ]
            if not due:
                break
            timer = min(due)[2]
            del self._deadlines[timer]
            actions += self._handle(timer, now, None)
        return actions

    def on_transport_error(self, now: float) -> list[Action]:
        """The transport failed to send one of our messages (or reported ICMP for it).

        The TU is told (``TransportError``); client and non-INVITE server
        transactions then terminate, an INVITE server transaction lives on (RFC 6026).
        """
        return self._handle(Input.TRANSPORT_ERROR, now, None)

    def _start(self, now: float, message: Trigger) -> list[Action]:
        return self._apply(MACHINES[self.machine][0], now, message)

    def _handle(self, event: Input | Timer, now: float, message: Trigger) -> list[Action]:
        if self.terminated:
            raise LocalProtocolError(f"{self!r} is terminated and takes no more input")
        try:
            return self._apply(lookup(self.machine, self.state, event), now, message)
        except BaseException:
            self._terminate()
            raise

    def _apply(self, transition: Transition, now: float, message: Trigger) -> list[Action]:
        actions: list[Action] = []
        immediate: list[Timer] = []
        for step in transition.steps:
            if isinstance(step, Start):
                if self.reliable and step.timer in RETRANSMISSION_TIMERS:
                    continue
                duration = self.config.duration(
                    step.timer,
                    step.interval,
                    reliable=self.reliable,
                    previous=self._intervals.get(step.timer),
                )
                self._intervals[step.timer] = duration
                self._deadlines[step.timer] = now + duration
                if duration == 0:
                    immediate.append(step.timer)
            elif isinstance(step, Stop):
                self._deadlines.pop(step.timer, None)
            else:
                actions += self._perform(step, message, now)
        self.state = transition.target
        self._shed()
        if self.terminated:
            self._terminate()
            actions.append(Terminated())
            return actions
        for timer in immediate:
            if not self.terminated and self._deadlines.pop(timer, None) is not None:
                actions += self._handle(timer, now, None)
        return actions

    def _terminate(self) -> None:
        self.state = State.TERMINATED
        self._deadlines.clear()
        self._shed()

    def _shed(self) -> None:
        """Drop the messages the current state no longer sends or answers with."""
        if self.state not in self.request_states:
            self.request = None

    def _perform(self, effect: Effect, message: Trigger, now: float) -> list[Action]:
        """Carry out one effect. Subclasses add their message effects."""
        match effect:
            case Effect.DELIVER if isinstance(message, Response):
                return [DeliverResponse(message)]
            case Effect.DELIVER if isinstance(message, Request):
                return [DeliverRequest(message)]
            case Effect.TIMED_OUT:
                return [TimedOut()]
            case Effect.TRANSPORT_FAILED:
                return [TransportError()]
        raise LocalProtocolError(f"{self.machine} transaction cannot perform {effect.value}")
