"""All the sockets of one endpoint: UDP sockets, TCP listeners and the TCP connection pool.

The endpoint asks it for two things: "give me a way to reach this peer and the sent-by to put in
my Via" (`route`) and "close everything" (`close`). Incoming messages flow the other way, from
the sockets straight to the sink.
"""

from __future__ import annotations

import functools
import ipaddress
import socket

from sipcore.transport.base import (
    Channel,
    MessageSink,
    Peer,
    TransportConfig,
    TransportKind,
    TransportStats,
    normalise_kind,
)
from sipcore.transport.tcp import TcpConnection, TcpListener, TcpPool
from sipcore.transport.udp import UdpSocket


@functools.lru_cache(maxsize=256)
def _is_unspecified(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_unspecified
    except ValueError:
        return False


@functools.lru_cache(maxsize=256)
def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def source_address_for(peer: Peer) -> str:
    """The local IP the kernel would send from to reach peer (no packet is sent)."""
    family = socket.AF_INET6 if peer.is_ipv6 else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as probe:
        probe.connect((peer.host, peer.port or 9))
        return str(probe.getsockname()[0])


class TransportManager:
    """Listeners and outgoing channels, chosen per destination."""

    def __init__(self, sink: MessageSink, config: TransportConfig | None = None) -> None:
        self.config = config or TransportConfig()
        self.stats = TransportStats()
        self._sink = sink
        self._udp: list[UdpSocket] = []
        self._tcp_listeners: list[TcpListener] = []
        self.pool = TcpPool(sink, self.config, self.stats)
        self._closed = False
        self._source_addresses: dict[str, str] = {}

    async def listen(self, kind: str, host: str, port: int) -> Peer:
        """Bind a listener; port 0 picks a free port. Returns the bound address."""
        if self._closed:
            raise RuntimeError("transport manager is closed")
        transport = normalise_kind(kind)
        if transport == "udp":
            udp = await UdpSocket.bind(
                host, port, sink=self._sink, config=self.config, stats=self.stats
            )
            self._udp.append(udp)
            return udp.local
        listener = await TcpListener.bind(host, port, self.pool)
        self._tcp_listeners.append(listener)
        return listener.local

    @property
    def listeners(self) -> list[Peer]:
        bound = [udp.local for udp in self._udp]
        return bound + [listener.local for listener in self._tcp_listeners]

    async def route(self, peer: Peer) -> tuple[Channel, Peer]:
        """The channel that reaches peer and the sent-by address our Via carries on it.

        UDP: a socket of peer's address family (a fresh ephemeral one if none listens).
        TCP: an open connection to peer (reused if one exists either way, else connected);
        the sent-by is a TCP listener of the same family if we have one, so the peer can open
        a connection back to us, else the connection's own local address.
        """
        if peer.transport == "udp":
            udp = self.udp_for(peer) or await self._ephemeral_udp(peer)
            return udp, self._advertised(udp.local, peer)
        connection = await self.pool.connect(peer)
        listener = self._listener_for(peer, "tcp")
        local = listener if listener is not None else connection.local
        return connection, self._advertised(local, peer)

    def udp_for(self, peer: Peer) -> UdpSocket | None:
        """A bound UDP socket able to send to peer, if any: same address family, and not
        bound to loopback when peer is elsewhere (the kernel would refuse the datagram)."""
        for udp in self._udp:
            local = udp.local
            if local.is_ipv6 != peer.is_ipv6 or not udp.is_open:
                continue
            if _is_loopback(local.host) and not _is_loopback(peer.host):
                continue
            return udp
        return None

    def _listener_for(self, peer: Peer, kind: TransportKind) -> Peer | None:
        for local in self.listeners:
            if local.transport == kind and local.is_ipv6 == peer.is_ipv6:
                return local
        return None

    async def _ephemeral_udp(self, peer: Peer) -> UdpSocket:
        host = "::" if peer.is_ipv6 else "0.0.0.0"
        udp = await UdpSocket.bind(host, 0, sink=self._sink, config=self.config, stats=self.stats)
        self._udp.append(udp)
        return udp

    def _advertised(self, local: Peer, peer: Peer) -> Peer:
        """local, with a wildcard bind address replaced by the address peer will see."""
        if not _is_unspecified(local.host):
            return local
        source = self._source_addresses.get(peer.host)
        if source is None:
            source = self._source_addresses[peer.host] = source_address_for(peer)
        return Peer(local.transport, source, local.port)

    async def connect(self, peer: Peer) -> TcpConnection:
        """An open TCP connection to peer (reused or new)."""
        return await self.pool.connect(peer)

    async def close(self) -> None:
        """Close listeners, connections and sockets; returns when all are gone."""
        self._closed = True
        for listener in self._tcp_listeners:
            await listener.close()
        await self.pool.close()
        for udp in self._udp:
            await udp.close()
        self._tcp_listeners.clear()
        self._udp.clear()
