"""Transport-level value types: addresses, limits and counters.

These are plain data shared by the UDP and TCP adapters, the routing rules and the endpoint.
Nothing here does I/O, so the routing rules can be tested without sockets.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Literal, Protocol

if TYPE_CHECKING:
    from sipcore.message import ParseError, Request, Response

TransportKind = Literal["udp", "tcp"]
TRANSPORT_KINDS: tuple[TransportKind, ...] = ("udp", "tcp")
RELIABLE_KINDS = frozenset({"tcp"})
DEFAULT_PORT = 5060


def normalise_kind(kind: str) -> TransportKind:
    """Map a Via or URI transport token ("UDP", "tcp") to a TransportKind; refuse anything else."""
    lowered = kind.lower()
    if lowered == "udp":
        return "udp"
    if lowered == "tcp":
        return "tcp"
    raise ValueError(f"unsupported transport {kind!r}")


@dataclass(frozen=True, slots=True)
class Peer:
    """One end of a SIP hop: transport kind, host (IPv6 without brackets) and port."""

    transport: TransportKind
    host: str
    port: int

    def __post_init__(self) -> None:
        if self.transport not in TRANSPORT_KINDS:
            raise ValueError(f"unsupported transport {self.transport!r}")
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port out of range: {self.port}")
        if self.host.startswith("["):
            object.__setattr__(self, "host", self.host.strip("[]"))

    @property
    def reliable(self) -> bool:
        """True for connection-oriented transports: no retransmissions, same-connection replies."""
        return self.transport in RELIABLE_KINDS

    @property
    def is_ipv6(self) -> bool:
        return ":" in self.host

    @property
    def hostport(self) -> str:
        """host:port as it appears in a Via sent-by or a URI (IPv6 references bracketed)."""
        host = f"[{self.host}]" if self.is_ipv6 else self.host
        return f"{host}:{self.port}"

    def address(self) -> tuple[str, int]:
        """The (host, port) pair the socket APIs take."""
        return (self.host, self.port)


def same_host(a: str, b: str) -> bool:
    """Compare two hosts, treating different spellings of one IP address as equal."""
    a, b = a.strip("[]"), b.strip("[]")
    try:
        return ipaddress.ip_address(a) == ipaddress.ip_address(b)
    except ValueError:
        return a.lower() == b.lower()


@dataclass(frozen=True, slots=True, kw_only=True)
class TransportConfig:
    """Limits and timeouts of the transport layer.

    max_datagram_size: a larger UDP datagram is dropped and counted.
    max_message_size: a larger message on a TCP stream closes the connection (the framer never
    buffers more than this).
    tcp_idle_timeout: a TCP connection with no traffic either way for this long is closed.
    tcp_connect_timeout: how long an outgoing TCP connect may take.
    write_buffer_high: TCP write buffer above which senders wait (drain) and reading pauses.
    max_connections: TCP connections open at once; a connection beyond it is closed at once.
    udp_receive_buffer: bytes the kernel may queue for a UDP socket (``SO_RCVBUF``, capped by
    ``net.core.rmem_max``). The default 208 KiB holds a few hundred datagrams, about a tenth
    of a second of a registration storm: a garbage collection or a busy database thread
    holding the loop that long made the kernel drop requests. Phones retransmit after
    500 ms, so a deeper queue only turns those drops into answers.
    """

    max_datagram_size: int = 65535
    max_message_size: int = 65535
    tcp_idle_timeout: float = 300.0
    tcp_connect_timeout: float = 5.0
    write_buffer_high: int = 256 * 1024
    max_connections: int = 10_000
    udp_receive_buffer: int = 4 * 1024 * 1024

    def __post_init__(self) -> None:
        for field in fields(self):
            if getattr(self, field.name) <= 0:
                raise ValueError(f"{field.name} must be positive")


@dataclass(slots=True)
class TransportStats:
    """Counters of what the transports carried and what they rejected, and why."""

    messages_received: int = 0
    messages_sent: int = 0
    parse_errors: int = 0
    oversize_datagrams: int = 0
    stream_errors: int = 0
    send_errors: int = 0
    connections_opened: int = 0
    connections_closed_idle: int = 0
    connections_refused: int = 0
    internal_errors: int = 0


class Channel(Protocol):
    """The socket or connection a message arrived on: a UdpSocket or a TcpConnection.

    Responses leave through it: a UDP response from the socket the request reached (so the
    source port the client sees is the one it sent to), a TCP response on the same connection.
    """

    reliable: bool

    @property
    def local(self) -> Peer: ...

    @property
    def is_open(self) -> bool: ...


class MessageSink(Protocol):
    """What the transports hand parsed messages to (the endpoint implements it)."""

    def message_received(
        self, message: Request | Response, source: Peer, channel: Channel
    ) -> None: ...

    def parse_error(self, error: ParseError, source: Peer, channel: Channel) -> None: ...

    def channel_closed(self, channel: Channel) -> None:
        """A connection closed (either side, or idle): what waited on it cannot succeed."""
