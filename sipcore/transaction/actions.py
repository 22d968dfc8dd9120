"""What a transaction asks its caller to do: frozen, immutable action records.

Transactions never perform I/O. Every method returns a list of these actions,
in the order the caller must carry them out.
"""

from __future__ import annotations

from dataclasses import dataclass

from sipcore.message import Request, Response


@dataclass(frozen=True, slots=True)
class SendMessage:
    """Pass ``message`` (a sipcore.message Request or Response) to the transport."""

    message: Request | Response


@dataclass(frozen=True, slots=True)
class DeliverResponse:
    """Pass ``response`` up to the transaction user."""

    response: Response


@dataclass(frozen=True, slots=True)
class DeliverRequest:
    """Pass ``request`` up to the transaction user (a new request, or an ACK)."""

    request: Request


@dataclass(frozen=True, slots=True)
class TimedOut:
    """Timer B, F or H fired: tell the TU the transaction timed out (408 for a client)."""


@dataclass(frozen=True, slots=True)
class TransportError:
    """The transport reported a fatal error: tell the TU the transaction failed."""


@dataclass(frozen=True, slots=True)
class Terminated:
    """The transaction reached Terminated: forget it (always the last action)."""


Action = SendMessage | DeliverResponse | DeliverRequest | TimedOut | TransportError | Terminated
