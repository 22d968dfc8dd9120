"""The four RFC 3261 §17 transaction state machines (with RFC 6026), as data.

Everything that drives a transaction lives here: each table maps
``(state, input)`` to a ``Transition`` (next state and ordered effects). Timer
firings are inputs like any message. A pair missing from a table is a
``LocalProtocolError`` (for example the TU answering a server transaction that
already sent its final response). Pairs that RFC 3261 says to absorb are listed
explicitly with no effects, so the tables read as the complete specification;
``diagrams.py`` draws docs/transaction-states.md from them.

Conventions: reaching ``TERMINATED`` stops every timer and emits ``Terminated``;
``Start`` of a retransmission timer (A, E, G) does nothing over a reliable
transport; a timer whose duration is zero (D, I, J, K over a reliable
transport) fires at once, in the same call.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from sipcore.errors import LocalProtocolError
from sipcore.transaction.timers import Interval, Timer


class State(enum.Enum):
    CALLING = "Calling"
    TRYING = "Trying"
    PROCEEDING = "Proceeding"
    COMPLETED = "Completed"
    CONFIRMED = "Confirmed"
    ACCEPTED = "Accepted"
    TERMINATED = "Terminated"


class Input(enum.Enum):
    """Message and transport inputs (timer inputs are ``Timer`` members)."""

    RESPONSE_1XX = "1xx"  # client: from the network
    RESPONSE_2XX = "2xx"
    RESPONSE_300_699 = "300-699"
    REQUEST = "request retransmission"  # server: from the network
    ACK = "ACK"
    TU_1XX = "1xx from TU"  # server: from the TU
    TU_2XX = "2xx from TU"
    TU_300_699 = "300-699 from TU"
    TRANSPORT_ERROR = "transport error"


def response_input(status: int, *, from_tu: bool) -> Input:
    """The table input for a response status: from the network (a client transaction's input)
    or from the TU (a server transaction's)."""
    if not isinstance(status, int) or not 100 <= status <= 699:
        raise LocalProtocolError(f"response status out of range: {status!r}")
    if status < 200:
        return Input.TU_1XX if from_tu else Input.RESPONSE_1XX
    if status < 300:
        return Input.TU_2XX if from_tu else Input.RESPONSE_2XX
    return Input.TU_300_699 if from_tu else Input.RESPONSE_300_699


class Effect(enum.Enum):
    SEND_REQUEST = "send request"  # client: (re)transmit the request
    SEND_ACK = "send ACK"  # INVITE client: the ACK for a non-2xx final (§17.1.1.3)
    DELIVER = "to TU"  # pass the input message up to the TU
    SEND_RESPONSE = "send response"  # server: send the TU's response and remember it
    RESEND_RESPONSE = "resend response"  # server: retransmit the last response sent
    SEND_TRYING = "send 100"  # INVITE server: generate 100 Trying
    TIMED_OUT = "timeout to TU"
    TRANSPORT_FAILED = "transport error to TU"


@dataclass(frozen=True, slots=True)
class Start:
    """(Re)start ``timer`` with a duration chosen by ``interval``."""

    timer: Timer
    interval: Interval = Interval.STANDARD

    def __str__(self) -> str:
        suffix = "" if self.interval is Interval.STANDARD else f" ({self.interval.value})"
        return f"start {self.timer.value}{suffix}"


@dataclass(frozen=True, slots=True)
class Stop:
    """Cancel ``timer`` if it is running."""

    timer: Timer

    def __str__(self) -> str:
        return f"stop {self.timer.value}"


Step = Effect | Start | Stop
Key = tuple[State, Input | Timer]


@dataclass(frozen=True, slots=True)
class Transition:
    target: State
    steps: tuple[Step, ...] = ()


def _absorb(state: State) -> Transition:
    return Transition(state)


def _inform(state: State) -> Transition:
    """RFC 6026 Figure 7: a transport error in the INVITE server transaction is reported
    to the TU without ending the transaction (Timers H, I and L still end it)."""
    return Transition(state, (Effect.TRANSPORT_FAILED,))


_FAIL = Transition(State.TERMINATED, (Effect.TRANSPORT_FAILED,))

S = State
I = Input  # noqa: E741
T = Timer
E = Effect

INVITE_CLIENT_INITIAL = Transition(S.CALLING, (E.SEND_REQUEST, Start(T.A), Start(T.B)))
INVITE_CLIENT: dict[Key, Transition] = {
    (S.CALLING, T.A): Transition(S.CALLING, (E.SEND_REQUEST, Start(T.A, Interval.DOUBLED))),
    (S.CALLING, T.B): Transition(S.TERMINATED, (E.TIMED_OUT,)),
    (S.CALLING, I.RESPONSE_1XX): Transition(S.PROCEEDING, (Stop(T.A), Stop(T.B), E.DELIVER)),
    (S.CALLING, I.RESPONSE_2XX): Transition(
        S.ACCEPTED, (Stop(T.A), Stop(T.B), E.DELIVER, Start(T.M))
    ),
    (S.CALLING, I.RESPONSE_300_699): Transition(
        S.COMPLETED, (Stop(T.A), Stop(T.B), E.SEND_ACK, E.DELIVER, Start(T.D))
    ),
    (S.CALLING, I.TRANSPORT_ERROR): _FAIL,
    (S.PROCEEDING, I.RESPONSE_1XX): Transition(S.PROCEEDING, (E.DELIVER,)),
    (S.PROCEEDING, I.RESPONSE_2XX): Transition(S.ACCEPTED, (E.DELIVER, Start(T.M))),
    (S.PROCEEDING, I.RESPONSE_300_699): Transition(
        S.COMPLETED, (E.SEND_ACK, E.DELIVER, Start(T.D))
    ),
    (S.PROCEEDING, I.TRANSPORT_ERROR): _FAIL,
    (S.COMPLETED, I.RESPONSE_1XX): _absorb(S.COMPLETED),
    (S.COMPLETED, I.RESPONSE_2XX): _absorb(S.COMPLETED),
    (S.COMPLETED, I.RESPONSE_300_699): Transition(S.COMPLETED, (E.SEND_ACK,)),
    (S.COMPLETED, T.D): Transition(S.TERMINATED),
    (S.COMPLETED, I.TRANSPORT_ERROR): _FAIL,
    (S.ACCEPTED, I.RESPONSE_1XX): _absorb(S.ACCEPTED),
    (S.ACCEPTED, I.RESPONSE_2XX): Transition(S.ACCEPTED, (E.DELIVER,)),
    (S.ACCEPTED, I.RESPONSE_300_699): _absorb(S.ACCEPTED),
    (S.ACCEPTED, T.M): Transition(S.TERMINATED),
    (S.ACCEPTED, I.TRANSPORT_ERROR): _FAIL,
}

_NICT_FINAL = Transition(S.COMPLETED, (Stop(T.E), Stop(T.F), E.DELIVER, Start(T.K)))
NON_INVITE_CLIENT_INITIAL = Transition(S.TRYING, (E.SEND_REQUEST, Start(T.E), Start(T.F)))
NON_INVITE_CLIENT: dict[Key, Transition] = {
    (S.TRYING, T.E): Transition(S.TRYING, (E.SEND_REQUEST, Start(T.E, Interval.DOUBLED_CAPPED))),
    (S.TRYING, T.F): Transition(S.TERMINATED, (E.TIMED_OUT,)),
    (S.TRYING, I.RESPONSE_1XX): Transition(S.PROCEEDING, (E.DELIVER,)),
    (S.TRYING, I.RESPONSE_2XX): _NICT_FINAL,
    (S.TRYING, I.RESPONSE_300_699): _NICT_FINAL,
    (S.TRYING, I.TRANSPORT_ERROR): _FAIL,
    (S.PROCEEDING, T.E): Transition(S.PROCEEDING, (E.SEND_REQUEST, Start(T.E, Interval.T2))),
    (S.PROCEEDING, T.F): Transition(S.TERMINATED, (E.TIMED_OUT,)),
    (S.PROCEEDING, I.RESPONSE_1XX): Transition(S.PROCEEDING, (E.DELIVER,)),
    (S.PROCEEDING, I.RESPONSE_2XX): _NICT_FINAL,
    (S.PROCEEDING, I.RESPONSE_300_699): _NICT_FINAL,
    (S.PROCEEDING, I.TRANSPORT_ERROR): _FAIL,
    (S.COMPLETED, I.RESPONSE_1XX): _absorb(S.COMPLETED),
    (S.COMPLETED, I.RESPONSE_2XX): _absorb(S.COMPLETED),
    (S.COMPLETED, I.RESPONSE_300_699): _absorb(S.COMPLETED),
    (S.COMPLETED, T.K): Transition(S.TERMINATED),
    (S.COMPLETED, I.TRANSPORT_ERROR): _FAIL,
}

INVITE_SERVER_INITIAL = Transition(S.PROCEEDING, (E.DELIVER, Start(T.TRYING)))
INVITE_SERVER: dict[Key, Transition] = {
    (S.PROCEEDING, T.TRYING): Transition(S.PROCEEDING, (E.SEND_TRYING,)),
    (S.PROCEEDING, I.REQUEST): Transition(S.PROCEEDING, (E.RESEND_RESPONSE,)),
    (S.PROCEEDING, I.ACK): _absorb(S.PROCEEDING),
    (S.PROCEEDING, I.TU_1XX): Transition(S.PROCEEDING, (Stop(T.TRYING), E.SEND_RESPONSE)),
    (S.PROCEEDING, I.TU_2XX): Transition(S.ACCEPTED, (Stop(T.TRYING), E.SEND_RESPONSE, Start(T.L))),
    (S.PROCEEDING, I.TU_300_699): Transition(
        S.COMPLETED, (Stop(T.TRYING), E.SEND_RESPONSE, Start(T.G), Start(T.H))
    ),
    (S.PROCEEDING, I.TRANSPORT_ERROR): _inform(S.PROCEEDING),
    (S.COMPLETED, I.REQUEST): Transition(S.COMPLETED, (E.RESEND_RESPONSE,)),
    (S.COMPLETED, I.ACK): Transition(S.CONFIRMED, (Stop(T.G), Stop(T.H), Start(T.I))),
    (S.COMPLETED, T.G): Transition(
        S.COMPLETED, (E.RESEND_RESPONSE, Start(T.G, Interval.DOUBLED_CAPPED))
    ),
    (S.COMPLETED, T.H): Transition(S.TERMINATED, (E.TIMED_OUT,)),
    (S.COMPLETED, I.TRANSPORT_ERROR): _inform(S.COMPLETED),
    (S.CONFIRMED, I.REQUEST): _absorb(S.CONFIRMED),
    (S.CONFIRMED, I.ACK): _absorb(S.CONFIRMED),
    (S.CONFIRMED, T.I): Transition(S.TERMINATED),
    (S.CONFIRMED, I.TRANSPORT_ERROR): _inform(S.CONFIRMED),
    (S.ACCEPTED, I.REQUEST): _absorb(S.ACCEPTED),
    (S.ACCEPTED, I.ACK): Transition(S.ACCEPTED, (E.DELIVER,)),
    (S.ACCEPTED, I.TU_2XX): Transition(S.ACCEPTED, (E.SEND_RESPONSE,)),
    (S.ACCEPTED, T.L): Transition(S.TERMINATED),
    (S.ACCEPTED, I.TRANSPORT_ERROR): _inform(S.ACCEPTED),
}

_NIST_FINAL = Transition(S.COMPLETED, (E.SEND_RESPONSE, Start(T.J)))
NON_INVITE_SERVER_INITIAL = Transition(S.TRYING, (E.DELIVER,))
NON_INVITE_SERVER: dict[Key, Transition] = {
    (S.TRYING, I.REQUEST): _absorb(S.TRYING),
    (S.TRYING, I.TU_1XX): Transition(S.PROCEEDING, (E.SEND_RESPONSE,)),
    (S.TRYING, I.TU_2XX): _NIST_FINAL,
    (S.TRYING, I.TU_300_699): _NIST_FINAL,
    (S.TRYING, I.TRANSPORT_ERROR): _FAIL,
    (S.PROCEEDING, I.REQUEST): Transition(S.PROCEEDING, (E.RESEND_RESPONSE,)),
    (S.PROCEEDING, I.TU_1XX): Transition(S.PROCEEDING, (E.SEND_RESPONSE,)),
    (S.PROCEEDING, I.TU_2XX): _NIST_FINAL,
    (S.PROCEEDING, I.TU_300_699): _NIST_FINAL,
    (S.PROCEEDING, I.TRANSPORT_ERROR): _FAIL,
    (S.COMPLETED, I.REQUEST): Transition(S.COMPLETED, (E.RESEND_RESPONSE,)),
    (S.COMPLETED, T.J): Transition(S.TERMINATED),
    (S.COMPLETED, I.TRANSPORT_ERROR): _FAIL,
}

MACHINES: dict[str, tuple[Transition, dict[Key, Transition]]] = {
    "INVITE client": (INVITE_CLIENT_INITIAL, INVITE_CLIENT),
    "non-INVITE client": (NON_INVITE_CLIENT_INITIAL, NON_INVITE_CLIENT),
    "INVITE server": (INVITE_SERVER_INITIAL, INVITE_SERVER),
    "non-INVITE server": (NON_INVITE_SERVER_INITIAL, NON_INVITE_SERVER),
}
"""Each machine's name, its initial transition (on creation) and its table."""


def lookup(machine: str, state: State, event: Input | Timer) -> Transition:
    """The transition for ``event`` in ``state``; a missing pair is our own bug."""
    try:
        return MACHINES[machine][1][state, event]
    except KeyError:
        label = event.value if isinstance(event, Input) else f"Timer {event.value}"
        raise LocalProtocolError(
            f"{machine} transaction in state {state.value} cannot handle {label}"
        ) from None
