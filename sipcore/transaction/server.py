"""Server transactions: INVITE (§17.2.1, RFC 6026) and non-INVITE (§17.2.2)."""

from __future__ import annotations

from typing import ClassVar

from sipcore.errors import LocalProtocolError
from sipcore.message import Request, Response, make_response
from sipcore.transaction.actions import Action, SendMessage
from sipcore.transaction.machine import Transaction, Trigger
from sipcore.transaction.tables import Effect, Input, State, response_input
from sipcore.transaction.timers import TimerConfig

DEFAULT_CONFIG = TimerConfig()


class ServerTransaction(Transaction):
    """Receives one request and sends the TU's responses; see ``create`` for the API.

    Use: ``txn, actions = ServerTransaction.create(request, reliable=False, now=t)``
    (the actions deliver the request to the TU), then ``txn.respond(response, now)``
    for the TU's answers, ``txn.receive(request, now)`` for retransmissions and the
    ACK of a non-2xx final, and ``txn.on_timer(now)`` at ``txn.next_deadline()``.
    """

    response_states: ClassVar[frozenset[State]]
    """The states in which a retransmitted request gets the last response again."""
    __slots__ = ("last_response",)

    def __init__(self, request: Request, *, reliable: bool, config: TimerConfig) -> None:
        super().__init__(request, reliable=reliable, config=config)
        self.last_response: Response | None = None
        """The most recent response sent, which retransmissions of the request get again
        (None outside ``response_states``)."""

    @classmethod
    def create(
        cls,
        request: Request,
        *,
        reliable: bool,
        now: float,
        config: TimerConfig = DEFAULT_CONFIG,
    ) -> tuple[ServerTransaction, list[Action]]:
        """Start a server transaction for a new ``request``; the actions deliver it to the TU.

        An INVITE server transaction also starts the 200 ms timer after which it
        sends ``100 Trying`` itself if the TU has not responded (§17.2.1).
        """
        if request.method == "ACK":
            raise LocalProtocolError("ACK never creates a server transaction")
        kind = InviteServerTransaction if request.method == "INVITE" else NonInviteServerTransaction
        txn = kind(request, reliable=reliable, config=config)
        return txn, txn._start(now, request)

    def receive(self, request: Request, now: float) -> list[Action]:
        """Feed a retransmission of our request, or (INVITE) an ACK, matched per §17.2.3."""
        event = Input.ACK if request.method == "ACK" else Input.REQUEST
        return self._handle(event, now, request)

    def respond(self, response: Response, now: float) -> list[Action]:
        """Send the TU's ``response``; a second final response is a LocalProtocolError."""
        return self._handle(response_input(response.status, from_tu=True), now, response)

    def _perform(self, effect: Effect, message: Trigger, now: float) -> list[Action]:
        match effect:
            case Effect.SEND_RESPONSE if isinstance(message, Response):
                self.last_response = message
                return [SendMessage(message)]
            case Effect.RESEND_RESPONSE:
                return [] if self.last_response is None else [SendMessage(self.last_response)]
        return super()._perform(effect, message, now)

    def _shed(self) -> None:
        super()._shed()
        if self.state not in self.response_states:
            self.last_response = None


class InviteServerTransaction(ServerTransaction):
    """Proceeding → Completed → Confirmed (non-2xx), or Proceeding → Accepted (2xx).

    Only Proceeding (which may send 100 Trying) keeps the INVITE, and only Proceeding and
    Completed the last response: Confirmed absorbs ACKs, and Accepted absorbs the INVITE's
    retransmissions and passes ACKs up while the TU retransmits its 2xx (RFC 6026 §7.1),
    so a call's transaction keeps no message for the 64·T1 after its answer."""

    machine = "INVITE server"
    request_states = frozenset({State.PROCEEDING})
    response_states = frozenset({State.PROCEEDING, State.COMPLETED})
    __slots__ = ()

    def _perform(self, effect: Effect, message: Trigger, now: float) -> list[Action]:
        if effect is Effect.SEND_TRYING and self.request is not None:
            self.last_response = make_response(self.request, 100)
            return [SendMessage(self.last_response)]
        return super()._perform(effect, message, now)


class NonInviteServerTransaction(ServerTransaction):
    """Trying → Proceeding → Completed → Terminated.

    The request is never sent again: the layer matches its retransmissions by key, and
    Completed answers them with the final response alone."""

    machine = "non-INVITE server"
    request_states = frozenset({State.TRYING, State.PROCEEDING})
    response_states = frozenset({State.PROCEEDING, State.COMPLETED})
    __slots__ = ()
