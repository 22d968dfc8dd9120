"""The transaction layer: match messages to transactions and schedule their timers.

Sans-I/O, like the transactions it holds: the transport adapter feeds it parsed
messages with ``receive(message, reliable=..., now=...)``, starts client
transactions with ``start_client``, passes the TU's answers with ``respond``,
and calls ``on_timer(now)`` whenever ``next_deadline()`` comes due (e.g. with
``loop.call_at``; re-read ``next_deadline()`` after every call). Every method
returns ``Dispatch`` records: an action and the transaction that produced it
(``None`` for messages that match no transaction and go straight to the TU).

Matching follows RFC 3261 §17.1.3 for responses (top Via branch and CSeq method)
and §17.2.3 for requests (branch, sent-by and method, ACK matching INVITE), with
the RFC 2543 fallback when the branch lacks the ``z9hG4bK`` magic cookie. An ACK
for a 2xx carries a new branch, matches nothing, and is delivered to the TU
(the dialog layer); so is a response that matches no client transaction, such
as a 2xx retransmitted after Timer M. Terminated transactions are forgotten.
"""

from __future__ import annotations

import heapq
import itertools
from dataclasses import dataclass

from sipcore.errors import LocalProtocolError
from sipcore.message import Message, ParseError, Request, Response, Via
from sipcore.transaction.actions import Action, DeliverRequest, DeliverResponse
from sipcore.transaction.client import ClientTransaction
from sipcore.transaction.server import ServerTransaction
from sipcore.transaction.timers import TimerConfig

MAGIC_COOKIE = "z9hG4bK"

Transaction = ClientTransaction | ServerTransaction
MatchKey = tuple[object, ...]
"""A matching key; server keys start with "3261" or "2543" (the rule that built them)."""


@dataclass(frozen=True, slots=True)
class Dispatch:
    """An action to carry out, and the transaction it came from (None: no transaction)."""

    transaction: Transaction | None
    action: Action


def _sent_by(via: Via) -> tuple[str, int]:
    default = 5061 if via.transport.upper() in ("TLS", "WSS") else 5060
    return via.host.lower(), via.port or default


def _rfc2543_key(request: Request, method: str, to_tag: str | None) -> MatchKey:
    """§17.2.3 fallback: Request-URI, tags, Call-ID, CSeq number and top Via."""
    via = request.top_via
    return (
        "2543",
        str(request.uri),
        request.from_addr.tag,
        to_tag,
        request.call_id,
        request.cseq.seq,
        method,
        via.transport.upper(),
        *_sent_by(via),
        via.branch,
    )


def server_key(request: Request, *, method: str | None = None) -> MatchKey:
    """The key a request matches server transactions by (§17.2.3).

    ``method`` overrides the request's method (ACK and CANCEL look for the INVITE).
    """
    via = request.top_via
    method = method or ("INVITE" if request.method == "ACK" else request.method)
    if via.branch and via.branch.startswith(MAGIC_COOKIE):
        return ("3261", via.branch, *_sent_by(via), method)
    return _rfc2543_key(request, method, request.to_addr.tag)


def client_key(message: Message) -> MatchKey:
    """The key a response matches its client transaction by (§17.1.3)."""
    return (message.top_via.branch, message.cseq.method)


class TransactionLayer:
    """All live transactions of one endpoint, found by RFC 3261 §17 matching rules."""

    def __init__(self, config: TimerConfig | None = None) -> None:
        self.config = config or TimerConfig()
        self.dropped = 0
        """Messages discarded because a header needed for matching was malformed."""
        self._clients: dict[MatchKey, ClientTransaction] = {}
        self._servers: dict[MatchKey, ServerTransaction] = {}
        self._rfc2543_acks: dict[MatchKey, ServerTransaction] = {}
        self._keys: dict[Transaction, list[tuple[dict[MatchKey, Transaction], MatchKey]]] = {}
        self._heap: list[tuple[float, int, Transaction]] = []
        self._order = itertools.count()

    def __len__(self) -> int:
        """The number of live transactions."""
        return len(self._keys)

    def __contains__(self, txn: object) -> bool:
        """Whether ``txn`` is a live transaction of this layer."""
        return txn in self._keys

    def start_client(
        self, request: Request, *, reliable: bool, now: float
    ) -> tuple[ClientTransaction, list[Dispatch]]:
        """Start a client transaction; the dispatches begin with sending ``request``."""
        key = client_key(request)
        if key in self._clients:
            raise LocalProtocolError(f"a client transaction for {key} already exists")
        txn, actions = ClientTransaction.create(
            request, reliable=reliable, now=now, config=self.config
        )
        self._register(txn, self._clients, key)
        return txn, self._after(txn, actions)

    def receive(self, message: Request | Response, *, reliable: bool, now: float) -> list[Dispatch]:
        """Feed one message from the transport.

        ``reliable`` says whether it came over a reliable transport (TCP), which
        decides the timers of a server transaction it creates.
        """
        try:
            if isinstance(message, Response):
                return self._receive_response(message, now)
            return self._receive_request(message, reliable, now)
        except ParseError:
            self.dropped += 1
            return []

    def respond(self, txn: ServerTransaction, response: Response, now: float) -> list[Dispatch]:
        """Send the TU's ``response`` through server transaction ``txn``."""
        if txn not in self._keys:
            raise LocalProtocolError(f"{txn!r} is not a live transaction of this layer")
        actions: list[Action] = []
        request = txn.request  # a final response makes the transaction drop it
        try:
            actions = txn.respond(response, now)
            key = self._keys[txn][0][1]
            final = response.status >= 200
            if key[0] == "2543" and final and txn.method == "INVITE" and request is not None:
                self._expect_rfc2543_ack(txn, request, response)
        finally:
            dispatches = self._after(txn, actions)
        return dispatches

    def transport_error(self, txn: Transaction, now: float) -> list[Dispatch]:
        """The transport could not send a message of ``txn``: tell the transaction.

        It reports ``TransportError`` and (except an INVITE server transaction,
        RFC 6026) terminates.
        """
        if txn not in self._keys:
            return []
        return self._after(txn, txn.on_transport_error(now))

    def find_invite_for_cancel(self, cancel: Request) -> ServerTransaction | None:
        """The live INVITE server transaction a CANCEL refers to (§9.2), if any."""
        try:
            txn = self._servers.get(server_key(cancel, method="INVITE"))
        except ParseError:
            return None
        return txn

    def next_deadline(self) -> float | None:
        """When ``on_timer`` must next be called, or None when no timer runs."""
        heap = self._heap
        while heap:
            deadline, _, txn = heap[0]
            if txn in self._keys and txn.next_deadline() == deadline:
                return deadline
            heapq.heappop(heap)
        return None

    def on_timer(self, now: float) -> list[Dispatch]:
        """Fire every transaction timer due at ``now``."""
        dispatches: list[Dispatch] = []
        heap = self._heap
        while heap and heap[0][0] <= now:
            _, _, txn = heapq.heappop(heap)
            due = txn.next_deadline()
            if txn in self._keys and due is not None and due <= now:
                dispatches += self._after(txn, txn.on_timer(now))
        return dispatches

    def _receive_response(self, response: Response, now: float) -> list[Dispatch]:
        txn = self._clients.get(client_key(response))
        if txn is None:
            return [Dispatch(None, DeliverResponse(response))]
        if txn.method == "INVITE":
            _ = response.to_addr  # the ACK copies To: a malformed one drops the response here
        return self._after(txn, txn.receive(response, now))

    def _receive_request(self, request: Request, reliable: bool, now: float) -> list[Dispatch]:
        key = server_key(request)
        txn = self._servers.get(key)
        if request.method == "ACK":
            if txn is None and key[0] == "2543":
                txn = self._rfc2543_acks.get(key)
            if txn is None:
                return [Dispatch(None, DeliverRequest(request))]
        if txn is not None:
            return self._after(txn, txn.receive(request, now))
        txn, actions = ServerTransaction.create(
            request, reliable=reliable, now=now, config=self.config
        )
        self._register(txn, self._servers, key)
        return self._after(txn, actions)

    def _expect_rfc2543_ack(
        self, txn: ServerTransaction, request: Request, response: Response
    ) -> None:
        """Without a branch an ACK is found by the To tag of our response (§17.2.3)."""
        to_tag = response.to_addr.tag
        if to_tag:
            self._register(txn, self._rfc2543_acks, _rfc2543_key(request, "INVITE", to_tag))

    def _register(
        self, txn: Transaction, index: dict[MatchKey, Transaction], key: MatchKey
    ) -> None:
        index[key] = txn
        self._keys.setdefault(txn, []).append((index, key))

    def _after(self, txn: Transaction, actions: list[Action]) -> list[Dispatch]:
        """Reap ``txn`` if it terminated, else schedule its next timer."""
        if txn.terminated:
            for index, key in self._keys.pop(txn, ()):
                if index.get(key) is txn:
                    del index[key]
        else:
            deadline = txn.next_deadline()
            if deadline is not None:
                heapq.heappush(self._heap, (deadline, next(self._order), txn))
        return [Dispatch(txn, action) for action in actions]
