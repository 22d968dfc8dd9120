"""In-memory harness: two transaction layers joined by a lossy link on a stepped clock.

The SIP version of h11's ``ConnectionPair``: every message crosses the link as
bytes (``to_bytes`` then ``parse_message``), so both layers exchange real
sipcore.message objects, and the clock moves only from one timer deadline to the
next, so a test covering 64·T1 of retransmissions runs in microseconds. Used by
the transaction and dialogue tests; usable by any TU's tests.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from sipcore.errors import LocalProtocolError
from sipcore.message import Request, make_response, new_branch, parse_message
from sipcore.transaction.actions import SendMessage
from sipcore.transaction.building import build_request
from sipcore.transaction.client import ClientTransaction
from sipcore.transaction.layer import Dispatch, TransactionLayer
from sipcore.transaction.server import ServerTransaction
from sipcore.transaction.timers import TimerConfig

CLIENT, SERVER = "client", "server"


def make_request(
    method: str = "INVITE",
    *,
    uri: str = "sip:bob@127.0.0.1:5070",
    branch: str | None = None,
    via: str | None = None,
    cseq: int = 1,
    call_id: str = "call-1@127.0.0.1",
    from_tag: str = "alice-tag",
    to_tag: str | None = None,
    contact: str | None = "<sip:alice@127.0.0.1:5060>",
    headers: Iterable[tuple[str, str]] = (),
    body: bytes = b"",
) -> Request:
    """A well-formed request from alice (127.0.0.1:5060) to bob, for tests and examples."""
    to = "<sip:bob@127.0.0.1>" + (f";tag={to_tag}" if to_tag else "")
    top_via = via or f"SIP/2.0/UDP 127.0.0.1:5060;branch={branch or new_branch()}"
    fields = [
        ("Via", top_via),
        ("Max-Forwards", "70"),
        ("From", f"Alice <sip:alice@127.0.0.1>;tag={from_tag}"),
        ("To", to),
        ("Call-ID", call_id),
        ("CSeq", f"{cseq} {method}"),
    ]
    if contact:
        fields.append(("Contact", contact))
    return build_request(method, uri, [*fields, *headers], body)


def make_reply(
    request: Any,
    status: int,
    *,
    to_tag: str | None = None,
    headers: Iterable[tuple[str, str]] = (),
) -> Any:
    """``make_response`` plus extra header fields (Contact, Record-Route, ...)."""
    response = make_response(request, status, to_tag=to_tag)
    for name, value in headers:
        response.headers.add(name, value)
    return response


def label(message: Any) -> str:
    """A message's short name on the wire log: its method, or its status code."""
    return str(message.status) if hasattr(message, "status") else message.method


def run_timers(machine: Any, until: float) -> list[tuple[float, Any]]:
    """Fire the timers of ``machine`` (a transaction or a dialogue) deadline by
    deadline up to ``until``; the actions, each with the time it happened."""
    happened: list[tuple[float, Any]] = []
    while (deadline := machine.next_deadline()) is not None and deadline <= until:
        happened += [(deadline, action) for action in machine.on_timer(deadline)]
    return happened


@dataclass(frozen=True, slots=True)
class WireRecord:
    """One transmission attempt: when, from which side, what, and whether it was lost."""

    time: float
    sender: str
    label: str
    lost: bool


Observer = Callable[["LinkedLayers", Any, Any], None]
"""A side's TU: called with the link, the transaction (or None) and the action."""


@dataclass(frozen=True, slots=True)
class Event:
    """Something handed to a side's TU: when, by which transaction (or None), what."""

    time: float
    transaction: Any
    action: Any


@dataclass
class LinkedLayers:
    """Two ``TransactionLayer``s, ``client`` and ``server``, on one in-memory link.

    ``lose`` maps a message label (``"INVITE"``, ``"200"``, ``"ACK"``) to how many
    of its next transmissions the link drops. ``client_tu`` / ``server_tu`` (if
    set) see every action their layer hands the TU and may answer through
    ``respond``, ``send`` and ``transmit``. Those actions are also logged in
    ``events[side]``, and every transmission in ``wire``. ``watch`` adds other
    timed machines (dialogues): their ``SendMessage`` actions go on the wire,
    the rest to the TU.
    """

    config: TimerConfig = field(default_factory=TimerConfig)
    reliable: bool = False
    lose: dict[str, int] = field(default_factory=dict)
    client_tu: Observer | None = None
    server_tu: Observer | None = None
    now: float = 0.0
    wire: list[WireRecord] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.layers = {CLIENT: TransactionLayer(self.config), SERVER: TransactionLayer(self.config)}
        self.events: dict[str, list[Event]] = {CLIENT: [], SERVER: []}
        self._watched: list[tuple[str, Any]] = []

    @property
    def client(self) -> TransactionLayer:
        return self.layers[CLIENT]

    @property
    def server(self) -> TransactionLayer:
        return self.layers[SERVER]

    def send(self, request: Any, side: str = CLIENT) -> ClientTransaction:
        """Start a client transaction for ``request`` on ``side`` at the current time."""
        layer = self.layers[side]
        txn, dispatches = layer.start_client(request, reliable=self.reliable, now=self.now)
        self._process(side, dispatches)
        return txn

    def respond(self, transaction: Any, response: Any) -> None:
        """Answer through ``transaction``, a live server transaction of either side."""
        for side, layer in self.layers.items():
            if isinstance(transaction, ServerTransaction) and transaction in layer:
                self._process(side, layer.respond(transaction, response, self.now))
                return
        raise LocalProtocolError(f"{transaction!r} is no live server transaction here")

    def watch(self, side: str, machine: Any) -> None:
        """Drive ``machine``'s timers (``next_deadline``/``on_timer``) from ``side``."""
        self._watched.append((side, machine))

    def transmit(self, sender: str, message: Any) -> None:
        """Put ``message`` on the link outside any transaction (an ACK for a 2xx, ...)."""
        name = label(message)
        lost = self.lose.get(name, 0) > 0
        if lost:
            self.lose[name] -= 1
        self.wire.append(WireRecord(self.now, sender, name, lost))
        if lost:
            return
        receiver = SERVER if sender == CLIENT else CLIENT
        parsed = parse_message(message.to_bytes())
        dispatches = self.layers[receiver].receive(parsed, reliable=self.reliable, now=self.now)
        self._process(receiver, dispatches)

    def run(self, until: float) -> None:
        """Advance the clock from deadline to deadline up to ``until``, firing timers."""
        while True:
            machines = [*self.layers.values(), *(machine for _, machine in self._watched)]
            pending = [machine.next_deadline() for machine in machines]
            deadlines = [deadline for deadline in pending if deadline is not None]
            if not deadlines or min(deadlines) > until:
                break
            self.now = max(self.now, min(deadlines))
            for side in (CLIENT, SERVER):
                self._process(side, self.layers[side].on_timer(self.now))
            for side, machine in self._watched:
                for action in machine.on_timer(self.now):
                    self._hand_over(side, None, action)
        self.now = max(self.now, until)

    def sent(self, sender: str, name: str, *, delivered_only: bool = False) -> list[float]:
        """The times ``sender`` transmitted messages labelled ``name``."""
        return [
            record.time
            for record in self.wire
            if record.sender == sender
            and record.label == name
            and not (delivered_only and record.lost)
        ]

    def _process(self, side: str, dispatches: list[Dispatch]) -> None:
        for dispatch in dispatches:
            self._hand_over(side, dispatch.transaction, dispatch.action)

    def _hand_over(self, side: str, transaction: Any, action: Any) -> None:
        if isinstance(action, SendMessage):
            self.transmit(side, action.message)
            return
        self.events[side].append(Event(self.now, transaction, action))
        tu = self.client_tu if side == CLIENT else self.server_tu
        if tu is not None:
            tu(self, transaction, action)
