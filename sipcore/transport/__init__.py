"""SIP transports (RFC 3261 §18, RFC 3581): UDP and TCP over IPv4 and IPv6.

The only sipcore package besides the endpoint that touches asyncio and sockets. Messages read
from the network are parsed, their top Via stamped with `received`/`rport`, and handed to a
`MessageSink` together with the channel (socket or connection) they arrived on. `routing` holds
the §18.2.2 rules for where a response goes; `TransportManager` owns every socket of an endpoint.
"""

from sipcore.transport.base import (
    Channel,
    MessageSink,
    Peer,
    TransportConfig,
    TransportKind,
    TransportStats,
)
from sipcore.transport.inbound import stamp_received
from sipcore.transport.manager import TransportManager
from sipcore.transport.routing import client_via, response_destination
from sipcore.transport.tcp import TcpConnection, TcpListener, TcpPool
from sipcore.transport.udp import UdpSocket

__all__ = [
    "Channel",
    "MessageSink",
    "Peer",
    "TcpConnection",
    "TcpListener",
    "TcpPool",
    "TransportConfig",
    "TransportKind",
    "TransportManager",
    "TransportStats",
    "UdpSocket",
    "client_via",
    "response_destination",
    "stamp_received",
]
