"""TCP transport: listeners, outgoing connections and the pool that lets both be reused.

RFC 3261 §18: responses go back on the connection the request came in on, and a request to a
peer reuses any open connection to it, whichever side opened it. Each connection is framed by
StreamFramer, which refuses a message over the size limit (the connection is then closed, so a
peer can never make us buffer without bound). A connection idle for `tcp_idle_timeout` seconds is
closed. Writers wait on one drain future while the peer is slow to read, and reading pauses
meanwhile so a peer that does not read its responses cannot queue more work.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import cast

from sipcore.message import ParseError, StreamFramer
from sipcore.transport.base import MessageSink, Peer, TransportConfig, TransportStats
from sipcore.transport.inbound import deliver

log = logging.getLogger(__name__)


class TcpConnection(asyncio.Protocol):
    """One TCP connection carrying SIP messages in both directions."""

    __slots__ = (
        "_closed",
        "_config",
        "_drain_waiter",
        "_framer",
        "_idle_handle",
        "_last_activity",
        "_loop",
        "_on_lost",
        "_on_made",
        "_paused",
        "_sink",
        "_stats",
        "_transport",
        "local",
        "remote",
    )

    reliable = True

    def __init__(
        self,
        sink: MessageSink,
        config: TransportConfig,
        stats: TransportStats,
        *,
        on_made: Callable[[TcpConnection], None],
        on_lost: Callable[[TcpConnection], None],
    ) -> None:
        self._sink = sink
        self._config = config
        self._stats = stats
        self._on_made = on_made
        self._on_lost = on_lost
        self._loop = asyncio.get_running_loop()
        self._transport: asyncio.Transport | None = None
        self._framer = StreamFramer(max_message_size=config.max_message_size)
        self._idle_handle: asyncio.TimerHandle | None = None
        self._last_activity = self._loop.time()
        self._paused = False
        self._drain_waiter: asyncio.Future[None] | None = None
        self._closed: asyncio.Future[None] = self._loop.create_future()
        self.remote = Peer("tcp", "0.0.0.0", 0)
        self.local = Peer("tcp", "0.0.0.0", 0)

    # asyncio.Protocol callbacks -------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)
        self._transport.set_write_buffer_limits(high=self._config.write_buffer_high)
        host, port = transport.get_extra_info("peername")[:2]
        self.remote = Peer("tcp", host, port)
        host, port = transport.get_extra_info("sockname")[:2]
        self.local = Peer("tcp", host, port)
        self._stats.connections_opened += 1
        self._touch()
        self._arm_idle_timer()
        self._on_made(self)

    def data_received(self, data: bytes) -> None:
        try:
            self._touch()
            try:
                messages = self._framer.feed(data)
            except ParseError as error:
                self._stats.stream_errors += 1
                log.info("closing TCP connection from %s: %s", self.remote, error.reason)
                self.close()
                return
            for message in messages:
                if not self.is_open:  # an earlier message's handler closed us
                    return
                deliver(
                    message,
                    self.remote,
                    self,
                    self._sink,
                    self._stats,
                    max_size=self._framer.max_message_size,
                )
            if self._framer.error is not None:
                # Messages framed before the bad octets were delivered; the stream is lost.
                self._stats.stream_errors += 1
                log.info(
                    "closing TCP connection from %s: %s", self.remote, self._framer.error.reason
                )
                self.close()
        except Exception:
            self._stats.internal_errors += 1
            log.exception("TCP data from %s not handled", self.remote)
            self.close()

    def eof_received(self) -> bool | None:
        return None  # the peer is done: let asyncio close our side too

    def pause_writing(self) -> None:
        self._paused = True
        if self._transport is not None and not self._transport.is_closing():
            self._transport.pause_reading()

    def resume_writing(self) -> None:
        self._paused = False
        if self._transport is not None and not self._transport.is_closing():
            self._transport.resume_reading()
        self._wake_writer(None)

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None
        self._drop_idle_timer()
        self._wake_writer(ConnectionResetError(f"TCP connection to {self.remote} lost"))
        self._on_lost(self)
        if not self._closed.done():
            self._closed.set_result(None)

    # sending --------------------------------------------------------------------------------

    @property
    def is_open(self) -> bool:
        return self._transport is not None and not self._transport.is_closing()

    def write(self, data: bytes) -> None:
        """Queue bytes without waiting (callers that cannot await rely on the paused reads)."""
        if self._transport is None or self._transport.is_closing():
            raise ConnectionError(f"TCP connection to {self.remote} is closed")
        self._transport.write(data)
        self._stats.messages_sent += 1
        self._touch()

    async def send(self, data: bytes) -> None:
        """Write bytes and wait while the peer's receive window is full."""
        self.write(data)
        if self._paused:
            if self._drain_waiter is None or self._drain_waiter.done():
                self._drain_waiter = self._loop.create_future()
            await asyncio.shield(self._drain_waiter)

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()

    async def wait_closed(self) -> None:
        await self._closed

    # internals ------------------------------------------------------------------------------

    def _wake_writer(self, exc: Exception | None) -> None:
        waiter, self._drain_waiter = self._drain_waiter, None
        if waiter is None or waiter.done():
            return
        if exc is None:
            waiter.set_result(None)
        else:
            waiter.set_exception(exc)

    def _touch(self) -> None:
        self._last_activity = self._loop.time()

    def _arm_idle_timer(self) -> None:
        deadline = self._last_activity + self._config.tcp_idle_timeout
        self._idle_handle = self._loop.call_at(deadline, self._idle_check)

    def _drop_idle_timer(self) -> None:
        if self._idle_handle is not None:
            self._idle_handle.cancel()
            self._idle_handle = None

    def _idle_check(self) -> None:
        self._idle_handle = None
        if self._transport is None:
            return
        if self._loop.time() >= self._last_activity + self._config.tcp_idle_timeout:
            self._stats.connections_closed_idle += 1
            log.debug("closing idle TCP connection to %s", self.remote)
            self.close()
        else:
            self._arm_idle_timer()


class TcpPool:
    """Open TCP connections by remote address; connects on demand and never twice at once."""

    def __init__(self, sink: MessageSink, config: TransportConfig, stats: TransportStats) -> None:
        self._sink = sink
        self._config = config
        self._stats = stats
        self._by_peer: dict[Peer, TcpConnection] = {}
        self._connecting: dict[Peer, asyncio.Future[TcpConnection]] = {}
        self._all: set[TcpConnection] = set()

    def protocol_factory(self) -> TcpConnection:
        """A new connection registered with this pool (for listeners and outgoing connects)."""
        return TcpConnection(
            self._sink, self._config, self._stats, on_made=self._adopt, on_lost=self._forget
        )

    def find(self, peer: Peer) -> TcpConnection | None:
        connection = self._by_peer.get(peer)
        if connection is not None and connection.is_open:
            return connection
        return None

    async def connect(self, peer: Peer) -> TcpConnection:
        """An open connection to peer: an existing one (either direction) or a new one."""
        existing = self.find(peer)
        if existing is not None:
            return existing
        pending = self._connecting.get(peer)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[TcpConnection] = asyncio.get_running_loop().create_future()
        self._connecting[peer] = future
        try:
            connection = await self._open(peer)
        except asyncio.CancelledError:
            future.cancel()
            raise
        except Exception as exc:
            future.set_exception(exc)
            future.exception()  # retrieved here so a lone connector leaves no warning behind
            raise
        else:
            future.set_result(connection)
            return connection
        finally:
            del self._connecting[peer]

    async def _open(self, peer: Peer) -> TcpConnection:
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(self._config.tcp_connect_timeout):
            _, connection = await loop.create_connection(self.protocol_factory, *peer.address())
        if not connection.is_open:
            raise ConnectionRefusedError(f"connection limit reached, not connecting to {peer}")
        if peer != connection.remote:
            self._by_peer[peer] = connection  # reachable under the name it was dialled by, too
        return connection

    def _adopt(self, connection: TcpConnection) -> None:
        if len(self._all) >= self._config.max_connections:
            self._stats.connections_refused += 1
            connection.close()
            return
        self._all.add(connection)
        self._by_peer[connection.remote] = connection

    def _forget(self, connection: TcpConnection) -> None:
        self._all.discard(connection)
        for peer in [peer for peer, known in self._by_peer.items() if known is connection]:
            del self._by_peer[peer]
        self._sink.channel_closed(connection)

    @property
    def connections(self) -> frozenset[TcpConnection]:
        return frozenset(self._all)

    async def close(self) -> None:
        connections = list(self._all)
        for connection in connections:
            connection.close()
        for connection in connections:
            await connection.wait_closed()


class TcpListener:
    """A listening TCP socket whose accepted connections join the pool."""

    def __init__(self, server: asyncio.Server, local: Peer) -> None:
        self._server = server
        self.local = local

    @classmethod
    async def bind(cls, host: str, port: int, pool: TcpPool) -> TcpListener:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(pool.protocol_factory, host.strip("[]"), port)
        bound_host, bound_port = server.sockets[0].getsockname()[:2]
        return cls(server, Peer("tcp", bound_host, bound_port))

    async def close(self) -> None:
        self._server.close()
        await self._server.wait_closed()
