"""What every transport does with a message it read: parse, stamp the Via, hand it on.

RFC 3261 §18.2.1 and RFC 3581 §4: a request whose top Via sent-by differs from the packet's
source gets `received=<source IP>`; one carrying an empty `rport` gets `rport=<source port>`
(and then `received` always, so the response can go back to the exact source).
"""

from __future__ import annotations

from sipcore.message import ParseError, Request, Response, parse_message
from sipcore.transport.base import Channel, MessageSink, Peer, TransportStats, same_host


def stamp_received(request: Request, source: Peer) -> None:
    """Add `received`/`rport` to the request's top Via as RFC 3261 and RFC 3581 require.

    Raises ParseError when the request has no Via or a malformed top Via.
    """
    via = request.top_via
    fill_rport = via.rport_requested and via.rport is None
    if fill_rport:
        via = via.with_param("rport", str(source.port))
    if fill_rport or not same_host(via.host, source.host):
        via = via.with_param("received", source.host)  # IPv6 unbracketed (RFC 5118 §4.5)
    if via is not request.top_via:
        request.replace_top_via(via)


def deliver(
    data: bytes,
    source: Peer,
    channel: Channel,
    sink: MessageSink,
    stats: TransportStats,
    *,
    max_size: int,
) -> None:
    """Parse one datagram or framed stream message and pass the result to the sink.

    ``max_size`` is the transport's own limit, so the parser never refuses what the
    transport was configured to accept.
    """
    try:
        message: Request | Response = parse_message(data, max_size=max_size)
        if isinstance(message, Request):
            stamp_received(message, source)
    except ParseError as error:
        stats.parse_errors += 1
        sink.parse_error(error, source, channel)
        return
    stats.messages_received += 1
    sink.message_received(message, source, channel)
