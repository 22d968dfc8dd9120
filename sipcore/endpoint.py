"""The asyncio endpoint: transports + the sans-I/O transaction layer + one timer.

Layering as in PJSIP: transport → transaction → application. Messages read by the transports
go through `TransactionLayer.receive`; what it dispatches is carried out here (send bytes,
resolve a client's future, start the application's request handler). The layer's timers are
driven by a single `loop.call_at` re-armed on `next_deadline()` after every change. This module
and `sipcore.transport` are the only protocol code that touches asyncio.

Failures stay contained: a malformed request that can be answered gets a stateless 400 (or the
parser's hint), anything else unparseable is counted and dropped, and no exception escapes a
transport callback. `CancelledError` is never swallowed.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from sipcore.message import ParseError, Request, Response, make_response, new_branch
from sipcore.transaction import (
    ClientTransaction,
    DeliverRequest,
    DeliverResponse,
    Dispatch,
    SendMessage,
    ServerTransaction,
    Terminated,
    TimedOut,
    TimerConfig,
    TransactionLayer,
    TransportError,
)
from sipcore.transport import (
    Channel,
    Peer,
    TcpConnection,
    TransportConfig,
    TransportManager,
    UdpSocket,
    client_via,
    response_destination,
)

log = logging.getLogger(__name__)

RequestHandler = Callable[[Request, "ServerTransactionHandle | None"], Awaitable[None] | None]
ResponseCallback = Callable[[Response], None]

_MAX_REASON = 120


@dataclass(frozen=True, slots=True, kw_only=True)
class EndpointConfig:
    """Timer and transport settings of one endpoint."""

    timers: TimerConfig = field(default_factory=TimerConfig)
    transport: TransportConfig = field(default_factory=TransportConfig)
    default_max_forwards: int = 70
    max_pending_handlers: int = 10_000
    """Request handlers running at once; beyond this new requests get 503 (back-pressure)."""


@dataclass(slots=True)
class EndpointStats:
    """Counters beyond the transport's: what the endpoint refused or could not deliver."""

    bad_requests_answered: int = 0
    overload_rejections: int = 0
    parse_errors_dropped: int = 0
    stray_responses: int = 0
    handler_errors: int = 0


class ServerTransactionHandle:
    """What the application gets with a new request: the request and the way to answer it.

    ``source`` is the hop the request came from, where responses go; ``client`` is the
    address of whoever sent it to us in the first place, the one to judge it by (IP allow
    lists, a provider's address). They differ only behind a trusted front door
    (``Endpoint.client_of``).
    """

    __slots__ = ("_endpoint", "channel", "client", "final_sent", "request", "source", "transaction")

    def __init__(
        self,
        endpoint: Endpoint,
        transaction: ServerTransaction,
        request: Request,
        source: Peer,
        channel: Channel,
        client: Peer | None = None,
    ) -> None:
        self._endpoint = endpoint
        self.transaction = transaction
        self.request = request
        self.source = source
        self.channel = channel
        self.client = source if client is None else client
        self.final_sent = False

    def respond(self, response: Response) -> None:
        """Send response through the server transaction (retransmitted by it over UDP).

        Raises LocalProtocolError when the transaction is over (e.g. a second final response).
        """
        self._endpoint._respond(self, response)
        if response.status >= 200:
            self.final_sent = True

    def reply(
        self,
        status: int,
        reason: str | None = None,
        *,
        to_tag: str | None = None,
        headers: list[tuple[str, str]] | None = None,
        body: bytes = b"",
    ) -> Response:
        """Build a response with make_response, add headers and body, send it, return it."""
        response = make_response(self.request, status, reason, to_tag=to_tag)
        response.headers.remove("Content-Length")  # to_bytes writes it last, matching the body
        for name, value in headers or ():
            response.headers.add(name, value)
        response.body = body
        self.respond(response)
        return response

    def __repr__(self) -> str:
        return f"<ServerTransactionHandle {self.request.method} from {self.source}>"


@dataclass(slots=True)
class _ClientState:
    request: Request
    peer: Peer
    channel: Channel
    future: asyncio.Future[Response]
    on_provisional: ResponseCallback | None


class Endpoint:
    """One SIP endpoint: listeners, transactions and the application hooks.

    `on_request(request, handle)` receives every new request, `handle` being None exactly for
    an ACK to a 2xx (it has no transaction and takes no response); it may be a coroutine
    function (run as a task) or a plain function. `on_stray_response(response)` receives the
    final responses no `send_request` is waiting for any more: 2xx retransmissions and forked
    2xx to an INVITE (the dialogue layer ACKs them again), and responses matching no
    transaction at all.
    """

    def __init__(self, config: EndpointConfig | None = None) -> None:
        self.config = config or EndpointConfig()
        self.transports = TransportManager(self, self.config.transport)
        self.layer = TransactionLayer(self.config.timers)
        self.stats = EndpointStats()
        self.on_request: RequestHandler | None = None
        self.on_stray_response: ResponseCallback | None = None
        self._loop = asyncio.get_running_loop()
        self._timer: asyncio.Handle | None = None
        self._timer_deadline: float | None = None
        self._clients: dict[ClientTransaction, _ClientState] = {}
        self._servers: dict[ServerTransaction, ServerTransactionHandle] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._closing = False

    # public API -----------------------------------------------------------------------------

    async def listen(self, kind: str, host: str, port: int) -> Peer:
        """Listen on host:port over kind ("udp" or "tcp"); returns the bound address."""
        return await self.transports.listen(kind, host, port)

    async def local_address(self, peer: Peer) -> Peer:
        """The sent-by our Via carries towards peer (opens a TCP connection if needed)."""
        _, local = await self.transports.route(peer)
        return local

    async def send_request(
        self,
        request: Request,
        peer: Peer,
        *,
        on_provisional: ResponseCallback | None = None,
        add_via: bool | None = None,
    ) -> Response:
        """Send request to peer through a client transaction; return its final response.

        Our Via (sent-by, new branch, `;rport`) is added when the request has none, or always
        with add_via=True (a proxy forwarding). A timeout yields a synthesised 408, a transport
        failure (refused TCP connect, failed send, connection lost before the answer) a 503
        (RFC 3261 §8.1.3.1). Provisional responses go to on_provisional. Cancelling the
        awaiting task does not stop the transaction.
        """
        if self._closing:
            raise ConnectionAbortedError("endpoint closed")
        try:
            channel, local = await self.transports.route(peer)
        except OSError as exc:  # TCP connect refused or timed out
            self.transports.stats.send_errors += 1
            return make_response(request, 503, f"Service Unavailable ({exc.__class__.__name__})")
        if add_via or (add_via is None and "Via" not in request.headers):
            request.headers.prepend("Via", client_via(local, new_branch()))
        if "Max-Forwards" not in request.headers:
            request.headers.add("Max-Forwards", str(self.config.default_max_forwards))
        future: asyncio.Future[Response] = self._loop.create_future()
        txn, dispatches = self.layer.start_client(
            request, reliable=peer.reliable, now=self._loop.time()
        )
        self._clients[txn] = _ClientState(request, peer, channel, future, on_provisional)
        self._run(dispatches)
        return await future

    async def send_stateless(self, message: Request | Response, peer: Peer) -> None:
        """Send a message outside any transaction: an ACK to a 2xx, a forwarded response.

        A request without a Via gets ours (with a new branch, as an ACK to a 2xx needs).
        Raises OSError when the peer cannot be reached.
        """
        channel, local = await self.transports.route(peer)
        if isinstance(message, Request) and "Via" not in message.headers:
            message.headers.prepend("Via", client_via(local, new_branch()))
        data = message.to_bytes()
        if isinstance(channel, TcpConnection):
            await channel.send(data)
        else:
            assert isinstance(channel, UdpSocket)
            channel.send(data, peer)

    def invite_for_cancel(self, cancel: Request) -> ServerTransactionHandle | None:
        """The handle of the INVITE a received CANCEL refers to, while it is live."""
        txn = self.layer.find_invite_for_cancel(cancel)
        return None if txn is None else self._servers.get(txn)

    async def close(self) -> None:
        """Stop timers and handlers, fail pending client requests, close every socket."""
        self._closing = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        for state in self._clients.values():
            if not state.future.done():
                state.future.set_exception(ConnectionAbortedError("endpoint closed"))
                state.future.exception()
        self._clients.clear()
        self._servers.clear()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.transports.close()

    # MessageSink (called by the transports) -------------------------------------------------

    def message_received(self, message: Request | Response, source: Peer, channel: Channel) -> None:
        if self._closing:
            return
        try:
            dispatches = self.layer.receive(
                message, reliable=channel.reliable, now=self._loop.time()
            )
            for dispatch in dispatches:
                if isinstance(dispatch.action, DeliverRequest) and dispatch.transaction is not None:
                    txn = dispatch.transaction
                    assert isinstance(txn, ServerTransaction)
                    request = dispatch.action.request
                    client = self.client_of(request, source)
                    self._servers[txn] = ServerTransactionHandle(
                        self, txn, request, source, channel, client
                    )
            self._run(dispatches)
        except Exception:
            self.stats.handler_errors += 1
            log.exception("message from %s not handled", source)

    def client_of(self, request: Request, source: Peer) -> Peer:
        """The address ``request`` from ``source`` is judged by: ``source`` itself here; an
        endpoint behind a front door believes the address the front door names."""
        return source

    def channel_closed(self, channel: Channel) -> None:
        """A TCP connection went away: client transactions waiting on it fail at once (503)."""
        try:
            now = self._loop.time()
            for txn, state in list(self._clients.items()):
                if state.channel is channel and not state.future.done():
                    self._run(self.layer.transport_error(txn, now))
        except Exception:
            self.stats.handler_errors += 1
            log.exception("failing transactions of a closed connection")

    def parse_error(self, error: ParseError, source: Peer, channel: Channel) -> None:
        try:
            request = error.request
            if error.status_hint is None or request is None or request.method == "ACK":
                self.stats.parse_errors_dropped += 1
                log.debug("dropped unparseable message from %s: %s", source, error.reason)
                return
            reason = " ".join(error.reason.split())[:_MAX_REASON] or None
            response = make_response(request, error.status_hint, reason)
            self._send_on_channel(response.to_bytes(), channel, source)
            self.stats.bad_requests_answered += 1
        except Exception:
            self.stats.parse_errors_dropped += 1
            log.debug("could not answer malformed request from %s", source, exc_info=True)

    # carrying out the transaction layer's dispatches ----------------------------------------

    def _run(self, dispatches: list[Dispatch]) -> None:
        for dispatch in dispatches:
            txn, action = dispatch.transaction, dispatch.action
            if isinstance(action, SendMessage):
                self._send_for(txn, action.message)
            elif isinstance(action, DeliverResponse):
                self._deliver_response(txn, action.response)
            elif isinstance(action, DeliverRequest):
                self._deliver_request(txn, action.request)
            elif isinstance(action, TimedOut | TransportError):
                self._fail(txn, 408 if isinstance(action, TimedOut) else 503)
            elif isinstance(action, Terminated):
                self._forget(txn)
        self._rearm_timer()

    def _send_for(self, txn: ClientTransaction | ServerTransaction | None, message: Any) -> None:
        try:
            state = self._clients.get(txn) if isinstance(txn, ClientTransaction) else None
            handle = self._servers.get(txn) if isinstance(txn, ServerTransaction) else None
            if state is not None:
                self._send_on_channel(message.to_bytes(), state.channel, state.peer)
            elif handle is not None:
                self._send_response(handle, message)
            else:  # only after close(): the transaction outlived its endpoint
                raise ConnectionAbortedError("endpoint closed")
        except (OSError, ValueError) as exc:
            self.transports.stats.send_errors += 1
            log.info("sending %r failed: %s", message, exc)
            if txn is not None:
                self._run(self.layer.transport_error(txn, self._loop.time()))

    def _send_response(self, handle: ServerTransactionHandle, response: Response) -> None:
        """RFC 3261 §18.2.2: same connection if open, else the address the top Via names.

        The response's top Via is a copy of the request's, already parsed and stamped with
        received/rport on arrival, so the request's is read rather than parsing it again.
        """
        data = response.to_bytes()
        channel = handle.channel
        if isinstance(channel, TcpConnection) and channel.is_open:
            channel.write(data)
            return
        destination = response_destination(handle.request.top_via)
        if destination.transport == "udp":
            udp = (
                channel if isinstance(channel, UdpSocket) else self.transports.udp_for(destination)
            )
            if udp is None:
                raise ConnectionError(f"no UDP socket can reach {destination}")
            udp.send(data, destination)
            return
        self._spawn(self._send_reconnecting(handle.transaction, data, destination))

    async def _send_reconnecting(self, txn: ServerTransaction, data: bytes, peer: Peer) -> None:
        """A response whose connection is gone: open a new one to the Via address (§18.2.2)."""
        try:
            connection = await self.transports.connect(peer)
            await connection.send(data)
        except (OSError, TimeoutError) as exc:
            self.transports.stats.send_errors += 1
            log.info("could not reconnect to %s for a response: %s", peer, exc)
            self._run(self.layer.transport_error(txn, self._loop.time()))

    def _send_on_channel(self, data: bytes, channel: Channel, peer: Peer) -> None:
        if isinstance(channel, TcpConnection):
            channel.write(data)
        else:
            assert isinstance(channel, UdpSocket)
            channel.send(data, peer)

    def _deliver_response(self, txn: Any, response: Response) -> None:
        state = self._clients.get(txn) if txn is not None else None
        if state is not None and response.status < 200:
            if state.on_provisional is not None:
                self._call_safely(state.on_provisional, response)
            return
        if state is not None and not state.future.done():
            state.future.set_result(response)
            if response.status < 300 or state.request.method != "INVITE":
                # Nothing more is sent for this request (only an INVITE's non-2xx final is
                # ACKed again): its request and response need not live on with the
                # transaction, whose 2xx retransmissions go to on_stray_response (RFC 6026).
                del self._clients[txn]
            return
        self.stats.stray_responses += 1
        if self.on_stray_response is not None:
            self._call_safely(self.on_stray_response, response)

    def _deliver_request(self, txn: Any, request: Request) -> None:
        handle = self._servers.get(txn) if txn is not None else None
        if self.on_request is None:
            if handle is not None:
                handle.reply(501)
            return
        if self._overloaded(handle):
            return
        try:
            result = self.on_request(request, handle)
        except Exception:
            self._handler_failed(handle)
            return
        if inspect.isawaitable(result):
            task = self._spawn(self._await_handler(result, handle))
            if inspect.iscoroutine(result):
                # A task cancelled before its first step (the endpoint closing) never starts
                # the handler: close it, or it is reported as a coroutine never awaited.
                task.add_done_callback(lambda _: result.close())

    def _overloaded(self, handle: ServerTransactionHandle | None) -> bool:
        """Refuse new work with 503 while too many handlers are still running."""
        if len(self._tasks) < self.config.max_pending_handlers:
            return False
        self.stats.overload_rejections += 1
        if handle is not None:
            handle.reply(503, headers=[("Retry-After", "1")])
        return True

    async def _await_handler(
        self, result: Awaitable[None], handle: ServerTransactionHandle | None
    ) -> None:
        try:
            await result
        except asyncio.CancelledError:
            raise
        except Exception:
            self._handler_failed(handle)

    def _handler_failed(self, handle: ServerTransactionHandle | None) -> None:
        self.stats.handler_errors += 1
        log.exception("request handler failed for %r", handle)
        if handle is not None and not handle.final_sent and handle.transaction in self._servers:
            handle.reply(500)

    def _fail(self, txn: Any, status: int) -> None:
        state = self._clients.get(txn) if txn is not None else None
        if state is not None and not state.future.done():
            state.future.set_result(make_response(state.request, status))

    def _forget(self, txn: Any) -> None:
        state = self._clients.pop(txn, None)
        if state is not None and not state.future.done():
            state.future.set_result(make_response(state.request, 408))
        self._servers.pop(txn, None)

    def _respond(self, handle: ServerTransactionHandle, response: Response) -> None:
        self._run(self.layer.respond(handle.transaction, response, self._loop.time()))

    # timers and tasks -----------------------------------------------------------------------

    def _rearm_timer(self) -> None:
        """One call_at for the whole layer, moved only when its next deadline changes.

        The deadline is kept alongside the handle: uvloop returns a plain Handle, without
        when(), for a deadline already past.
        """
        deadline = self.layer.next_deadline()
        if self._timer is not None:
            if deadline == self._timer_deadline:
                return
            self._timer.cancel()
            self._timer = None
        if deadline is not None and not self._closing:
            self._timer = self._loop.call_at(deadline, self._on_timer)
            self._timer_deadline = deadline

    def _on_timer(self) -> None:
        self._timer = None
        try:
            self._run(self.layer.on_timer(self._loop.time()))
        except Exception:
            self.stats.handler_errors += 1
            log.exception("transaction timer failed")
            self._rearm_timer()

    def _spawn(self, coroutine: Awaitable[None]) -> asyncio.Future[None]:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _call_safely(self, callback: ResponseCallback, response: Response) -> None:
        try:
            callback(response)
        except Exception:
            self.stats.handler_errors += 1
            log.exception("response callback failed for %r", response)
