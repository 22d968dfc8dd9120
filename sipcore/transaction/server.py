"""Server transactions: INVITE (§17.2.1, RFC 6026) and non-INVITE (§17.2.2)."""

from __future__ import annotations

from sipcore.errors import LocalProtocolError
from sipcore.message import Request, Response, make_response
from sipcore.transaction.actions import Action, SendMessage
from sipcore.transaction.machine import Transaction, Trigger
from sipcore.transaction.tables import Effect, Input
from sipcore.transaction.timers import TimerConfig

DEFAULT_CONFIG = TimerConfig()


def tu_response_input(status: int) -> Input:
    """The table input for a response the TU hands to a server transaction."""
    if not isinstance(status, int) or not 100 <= status <= 699:
        raise LocalProtocolError(f"response status out of range: {status!r}")
    if status < 200:
        return Input.TU_1XX
    if status < 300:
        return Input.TU_2XX
    return Input.TU_300_699


class ServerTransaction(Transaction):
    """Receives one request and sends the TU's responses; see ``create`` for the API.

    Use: ``txn, actions = ServerTransaction.create(request, reliable=False, now=t)``
    (the actions deliver the request to the TU), then ``txn.respond(response, now)``
    for the TU's answers, ``txn.receive(request, now)`` for retransmissions and the
    ACK of a non-2xx final, and ``txn.on_timer(now)`` at ``txn.next_deadline()``.
    """

    last_response: Response | None = None
    """The most recent response sent, which retransmissions of the request get again."""

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
        return self._handle(tu_response_input(response.status), now, response)

    def _perform(self, effect: Effect, message: Trigger, now: float) -> list[Action]:
        match effect:
            case Effect.SEND_RESPONSE if isinstance(message, Response):
                self.last_response = message
                return [SendMessage(message)]
            case Effect.RESEND_RESPONSE:
                return [] if self.last_response is None else [SendMessage(self.last_response)]
        return super()._perform(effect, message, now)


class InviteServerTransaction(ServerTransaction):
    """Proceeding → Completed → Confirmed (non-2xx), or Proceeding → Accepted (2xx)."""

    machine = "INVITE server"

    def _perform(self, effect: Effect, message: Trigger, now: float) -> list[Action]:
        if effect is Effect.SEND_TRYING:
            self.last_response = make_response(self.request, 100)
            return [SendMessage(self.last_response)]
        return super()._perform(effect, message, now)


class NonInviteServerTransaction(ServerTransaction):
    """Trying → Proceeding → Completed → Terminated."""

    machine = "non-INVITE server"
