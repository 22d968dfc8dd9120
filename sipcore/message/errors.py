"""The one exception the message layer lets out: ``ParseError``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sipcore.errors import RemoteProtocolError

if TYPE_CHECKING:
    from sipcore.message.message import Request


class ParseError(RemoteProtocolError):
    """The peer sent bytes that are not a well-formed SIP message (or header value).

    ``reason`` says what is wrong in words fit for a 400 reason phrase.
    ``status_hint`` is the response to send (400, or 505 for an unknown SIP
    version) when enough of a request survived to answer it, and ``None`` when
    the message can only be dropped; ``request`` is then that partial request,
    good enough for ``make_response``.
    """

    def __init__(
        self, reason: str, *, status_hint: int | None = None, request: Request | None = None
    ) -> None:
        super().__init__(reason, status_hint=400)
        self.reason = reason
        self.status_hint = status_hint  # None here: drop, do not answer
        self.request = request
