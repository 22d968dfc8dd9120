"""UDP transport: one datagram socket that both listens and sends (RFC 3261 §18.1.1, §18.2.1).

Requests we send carry `;rport`, so responses come back to this very socket; that is why one
socket per address family serves as listener and client alike.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from typing import cast

from sipcore.transport.base import MessageSink, Peer, TransportConfig, TransportStats
from sipcore.transport.inbound import deliver

log = logging.getLogger(__name__)


class UdpSocket(asyncio.DatagramProtocol):
    """A bound UDP socket: datagrams in go to the sink, `send` puts datagrams out."""

    __slots__ = ("_closed", "_config", "_sink", "_stats", "_transport", "local")

    reliable = False

    def __init__(self, sink: MessageSink, config: TransportConfig, stats: TransportStats) -> None:
        self._sink = sink
        self._config = config
        self._stats = stats
        self._transport: asyncio.DatagramTransport | None = None
        self._closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.local = Peer("udp", "0.0.0.0", 0)  # the bound address, once bound

    @classmethod
    async def bind(
        cls,
        host: str,
        port: int,
        *,
        sink: MessageSink,
        config: TransportConfig,
        stats: TransportStats,
    ) -> UdpSocket:
        """Bind a UDP socket on host:port (port 0 picks a free one; read it from `.local`)."""
        loop = asyncio.get_running_loop()
        _, protocol = await loop.create_datagram_endpoint(
            lambda: cls(sink, config, stats), local_addr=(host.strip("[]"), port)
        )
        return protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.DatagramTransport, transport)
        host, port = transport.get_extra_info("sockname")[:2]
        self.local = Peer("udp", host, port)
        sock = transport.get_extra_info("socket")
        if sock is None:
            return
        asked = self._config.udp_receive_buffer
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, asked)
            granted = sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF) // 2
        except OSError as error:
            log.warning("UDP socket %s keeps the kernel's receive buffer: %s", self.local, error)
            return
        if granted < asked:
            # Linux caps the request at net.core.rmem_max without an error.
            log.warning(
                "UDP socket %s got a %d-byte receive buffer, not %d: raise net.core.rmem_max "
                "or bursts of requests are dropped",
                self.local,
                granted,
                asked,
            )

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        try:
            if len(data) > self._config.max_datagram_size:
                self._stats.oversize_datagrams += 1
                return
            source = Peer("udp", str(addr[0]), int(addr[1]))
            deliver(
                data,
                source,
                self,
                self._sink,
                self._stats,
                max_size=self._config.max_datagram_size,
            )
        except Exception:
            self._stats.internal_errors += 1
            log.exception("UDP datagram from %s not handled", addr)

    def error_received(self, exc: Exception) -> None:
        # ICMP errors (port unreachable) for earlier sendto calls: the transaction layer's
        # timers already cover a silent peer, so they are only logged.
        log.debug("UDP socket %s: %s", self.local, exc)

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None
        if not self._closed.done():
            self._closed.set_result(None)

    @property
    def is_open(self) -> bool:
        return self._transport is not None and not self._transport.is_closing()

    def send(self, data: bytes, peer: Peer) -> None:
        """Send one datagram; raises ConnectionError once the socket is closed."""
        if self._transport is None or self._transport.is_closing():
            raise ConnectionError(f"UDP socket {self.local} is closed")
        self._transport.sendto(data, peer.address())
        self._stats.messages_sent += 1

    async def close(self) -> None:
        if self._transport is not None:
            self._transport.close()
        await self._closed
