"""Where a response goes and what Via a request we send carries (RFC 3261 §18.2.2, RFC 3581).

Pure functions over parsed Via values: the endpoint asks them for a destination and does the
sending itself, so the rules are tested without sockets.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sipcore.transport.base import DEFAULT_PORT, Peer, normalise_kind

if TYPE_CHECKING:
    from sipcore.message import Via


def response_destination(top_via: Via) -> Peer:
    """The address a response goes to when the request's connection (if any) is gone.

    §18.2.2 and RFC 3581 §4, in order: a `maddr` parameter wins (port from sent-by); then the
    `received` address, with the `rport` port over unreliable transports (TCP uses the sent-by
    port, as the client listens there); without `received` the sent-by itself.
    Raises ValueError for a transport this stack does not speak.
    """
    kind = normalise_kind(top_via.transport)
    sent_by_port = top_via.port or DEFAULT_PORT
    maddr = top_via.maddr
    if maddr:
        return Peer(kind, maddr, sent_by_port)
    if top_via.received:
        port = sent_by_port
        if kind == "udp" and top_via.rport is not None:
            port = top_via.rport
        return Peer(kind, top_via.received, port)
    return Peer(kind, top_via.host, sent_by_port)


def client_via(local: Peer, branch: str) -> str:
    """The Via value a request we originate carries: our sent-by, the branch, and `;rport`.

    `rport` (RFC 3581) asks the server to answer to the port the request really came from,
    which is the socket that sent it, so responses get through NATs and ephemeral sockets.
    """
    return f"SIP/2.0/{local.transport.upper()} {local.hostport};branch={branch};rport"
