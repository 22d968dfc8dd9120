"""The two protocol error kinds shared by every sipcore layer.

Split by who is at fault, as h11 does: ``LocalProtocolError`` means our own
code (the TU or a layer) misused an API, for example answering a transaction
that already sent its final response. ``RemoteProtocolError`` means the peer
broke the protocol; its ``status_hint`` is the response the stack should send
back when the offending message was a request (for example 500 for an
out-of-order in-dialogue CSeq, RFC 3261 §12.2.2).
"""

from __future__ import annotations


class ProtocolError(Exception):
    """Base class: a SIP protocol rule was broken. Never raised directly."""

    def __init__(self, message: str, *, status_hint: int = 400) -> None:
        if type(self) is ProtocolError:
            raise TypeError("raise LocalProtocolError or RemoteProtocolError instead")
        super().__init__(message)
        self.status_hint = status_hint


class LocalProtocolError(ProtocolError):
    """Our side misused the API (a bug in the caller, not in the peer)."""


class RemoteProtocolError(ProtocolError):
    """The peer sent something the protocol forbids; answer with ``status_hint``."""
