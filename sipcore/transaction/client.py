"""Client transactions: INVITE (§17.1.1, RFC 6026) and non-INVITE (§17.1.2)."""

from __future__ import annotations

from sipcore.errors import LocalProtocolError
from sipcore.message import Request, Response
from sipcore.transaction.actions import Action, SendMessage
from sipcore.transaction.building import build_non_2xx_ack
from sipcore.transaction.machine import Transaction, Trigger
from sipcore.transaction.tables import Effect, State, response_input
from sipcore.transaction.timers import TimerConfig

DEFAULT_CONFIG = TimerConfig()


class ClientTransaction(Transaction):
    """Sends one request and follows its responses; see ``create`` for the API.

    Use: ``txn, actions = ClientTransaction.create(request, reliable=False, now=t)``,
    then ``txn.receive(response, now)`` for each matching response,
    ``txn.on_timer(now)`` at ``txn.next_deadline()``, and
    ``txn.on_transport_error(now)`` if sending failed. Each returns the actions to
    carry out; the last action of a finished transaction is ``Terminated``.
    """

    __slots__ = ("branch",)

    def __init__(self, request: Request, *, reliable: bool, config: TimerConfig) -> None:
        super().__init__(request, reliable=reliable, config=config)
        branch = request.top_via.branch
        if not branch:
            raise LocalProtocolError("a client transaction needs a top Via branch")
        self.branch = branch
        """The top Via branch of our request: the transaction's identity (§17.1.3)."""

    @classmethod
    def create(
        cls,
        request: Request,
        *,
        reliable: bool,
        now: float,
        config: TimerConfig = DEFAULT_CONFIG,
    ) -> tuple[ClientTransaction, list[Action]]:
        """Start a client transaction for ``request`` (which must carry a Via branch).

        The first action sends the request. ACK never gets a transaction (§17.1.1.3).
        """
        if request.method == "ACK":
            raise LocalProtocolError("ACK is sent without a client transaction")
        kind = InviteClientTransaction if request.method == "INVITE" else NonInviteClientTransaction
        txn = kind(request, reliable=reliable, config=config)
        return txn, txn._start(now, None)

    def receive(self, response: Response, now: float) -> list[Action]:
        """Feed a response that matched this transaction (§17.1.3)."""
        return self._handle(response_input(response.status, from_tu=False), now, response)

    def _perform(self, effect: Effect, message: Trigger, now: float) -> list[Action]:
        if effect is Effect.SEND_REQUEST and self.request is not None:
            return [SendMessage(self.request)]
        return super()._perform(effect, message, now)


class InviteClientTransaction(ClientTransaction):
    """Calling → Proceeding → Completed (non-2xx) or Accepted (2xx) → Terminated.

    Completed sends only the ACK built on entering it, and Accepted passes 2xx
    retransmissions to the TU (RFC 6026 §8.4): neither keeps the INVITE."""

    machine = "INVITE client"
    request_states = frozenset({State.CALLING, State.PROCEEDING})
    __slots__ = ("_ack",)

    def __init__(self, request: Request, *, reliable: bool, config: TimerConfig) -> None:
        super().__init__(request, reliable=reliable, config=config)
        self._ack: Request | None = None

    @property
    def ack(self) -> Request | None:
        """The ACK built for the non-2xx final response, once there is one."""
        return self._ack

    def _perform(self, effect: Effect, message: Trigger, now: float) -> list[Action]:
        if effect is Effect.SEND_ACK and isinstance(message, Response):
            if self._ack is None and self.request is not None:
                self._ack = build_non_2xx_ack(self.request, message)
            return [] if self._ack is None else [SendMessage(self._ack)]
        return super()._perform(effect, message, now)

    def _shed(self) -> None:
        super()._shed()
        if self.terminated:
            self._ack = None


class NonInviteClientTransaction(ClientTransaction):
    """Trying → Proceeding → Completed → Terminated (Completed sends nothing: no request)."""

    machine = "non-INVITE client"
    request_states = frozenset({State.TRYING, State.PROCEEDING})
    __slots__ = ()
