"""Transaction timers (RFC 3261 §17 and Table 4, RFC 6026 §8) and their durations.

All durations derive from ``TimerConfig`` (T1, T2, T4 and Timer D), never from
literals scattered through the state machines. Retransmission timers (A, E, G)
run only over unreliable transports; timers that absorb retransmissions
(D, I, J, K) last zero seconds over reliable ones.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from sipcore.errors import LocalProtocolError


class Timer(enum.Enum):
    """Every timer a transaction can run. A firing timer is a table input."""

    A = "A"  # INVITE client: request retransmission
    B = "B"  # INVITE client: transaction timeout
    D = "D"  # INVITE client: wait for response retransmissions (Completed)
    E = "E"  # non-INVITE client: request retransmission
    F = "F"  # non-INVITE client: transaction timeout
    G = "G"  # INVITE server: final response retransmission
    H = "H"  # INVITE server: wait for ACK
    I = "I"  # INVITE server: absorb ACK retransmissions (Confirmed)  # noqa: E741
    J = "J"  # non-INVITE server: absorb request retransmissions (Completed)
    K = "K"  # non-INVITE client: absorb response retransmissions (Completed)
    L = "L"  # INVITE server (RFC 6026): absorb INVITE retransmissions (Accepted)
    M = "M"  # INVITE client (RFC 6026): pass 2xx retransmissions to the TU (Accepted)
    TRYING = "100"  # INVITE server: send 100 Trying if the TU is silent for 200 ms


class Interval(enum.Enum):
    """How a ``Start`` effect computes the timer's duration."""

    STANDARD = "standard"  # the RFC 3261 Table 4 value for that timer
    DOUBLED = "doubled"  # twice the timer's previous interval (Timer A)
    DOUBLED_CAPPED = "doubled, capped at T2"  # min(2 * previous, T2) (Timers E and G)
    T2 = "T2"  # exactly T2 (Timer E in the non-INVITE Proceeding state)


RETRANSMISSION_TIMERS = frozenset({Timer.A, Timer.E, Timer.G})
"""Not started at all over a reliable transport (RFC 3261 §17.1.1.2, §17.1.2.2, §17.2.1)."""

ZERO_WHEN_RELIABLE = frozenset({Timer.D, Timer.I, Timer.J, Timer.K})
"""Fire immediately over a reliable transport: there are no retransmissions to absorb."""

TRYING_DELAY = 0.2
"""RFC 3261 §17.2.1: send 100 Trying unless the TU answers within 200 ms."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TimerConfig:
    """RFC 3261 timer values, in seconds.

    ``t1`` is the RTT estimate, ``t2`` the cap on non-INVITE and final-response
    retransmission intervals, ``t4`` the time a message may stay in the network,
    ``timer_d`` the INVITE client's Completed wait over UDP (at least 32 s).
    """

    t1: float = 0.5
    t2: float = 4.0
    t4: float = 5.0
    timer_d: float = 32.0

    def __post_init__(self) -> None:
        for name in ("t1", "t2", "t4", "timer_d"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or value <= 0:
                raise LocalProtocolError(f"TimerConfig.{name} must be a positive number: {value!r}")
        if self.t2 < self.t1:
            raise LocalProtocolError(f"TimerConfig.t2 ({self.t2}) must not be below t1 ({self.t1})")

    def standard(self, timer: Timer, *, reliable: bool) -> float:
        """The RFC 3261 Table 4 (and RFC 6026) duration of ``timer``."""
        if reliable and timer in ZERO_WHEN_RELIABLE:
            return 0.0
        match timer:
            case Timer.A | Timer.E | Timer.G:
                return self.t1
            case Timer.B | Timer.F | Timer.H | Timer.J | Timer.L | Timer.M:
                return 64 * self.t1
            case Timer.D:
                return self.timer_d
            case Timer.I | Timer.K:
                return self.t4
            case Timer.TRYING:
                return TRYING_DELAY
        raise LocalProtocolError(f"no duration for timer {timer}")

    def duration(
        self, timer: Timer, interval: Interval, *, reliable: bool, previous: float | None
    ) -> float:
        """The duration of ``timer`` started by a ``Start(timer, interval)`` effect."""
        first = self.standard(timer, reliable=reliable)
        match interval:
            case Interval.STANDARD:
                return first
            case Interval.T2:
                return self.t2
            case Interval.DOUBLED:
                return first if previous is None else 2 * previous
            case Interval.DOUBLED_CAPPED:
                return first if previous is None else min(2 * previous, self.t2)
        raise LocalProtocolError(f"unknown interval {interval}")
