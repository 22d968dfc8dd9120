"""Cutting a TCP byte stream into SIP messages (RFC 3261 §18.3, RFC 5626 §3.5.1).

Sans-I/O, like h11's ``receive_data``: the transport feeds whatever it read
and gets back the complete messages, each as bytes for ``parse_message``.
CRLFs between messages are keep-alives and are skipped. On a stream every
message must carry Content-Length, and a message may not exceed
``max_message_size``: the framer never buffers more than that, and raises
``ParseError`` (after which the transport closes the connection).
"""

from __future__ import annotations

import re

from sipcore.message.errors import ParseError
from sipcore.message.parser import MAX_MESSAGE_SIZE
from sipcore.message.values import parse_int

_CONTENT_LENGTH = re.compile(
    rb"^(?:content-length|l)[ \t]*:((?:[ \t]|\r\n[ \t])*[^\r\n]*(?:\r\n[ \t][^\r\n]*)*)",
    re.IGNORECASE | re.MULTILINE,
)


class StreamFramer:
    """Incremental framer for one stream connection.

    ``pings_received`` counts the CRLFCRLF keep-alive pings seen between
    messages; a transport that supports RFC 5626 answers each with a CRLF pong.
    """

    __slots__ = ("_body_length", "_buffer", "_crlfs", "_error", "_head_end", "_scanned",
                 "max_message_size", "pings_received")  # fmt: skip

    def __init__(self, max_message_size: int = MAX_MESSAGE_SIZE) -> None:
        self.max_message_size = max_message_size
        self._buffer = bytearray()
        self._scanned = 0  # where the search for the end of the head resumes
        self._head_end = -1  # offset of the body once the head is complete
        self._body_length = 0
        self._error: ParseError | None = None
        self._crlfs = 0  # CRLFs seen since the last message, for keep-alive pings
        self.pings_received = 0

    @property
    def buffered(self) -> int:
        """Octets held for an incomplete message."""
        return len(self._buffer)

    @property
    def error(self) -> ParseError | None:
        """The framing error that ended this stream, if any (the connection should close)."""
        return self._error

    def feed(self, data: bytes) -> list[bytes]:
        """Add ``data`` read from the stream; return every message it completes.

        Raises ``ParseError`` when the stream cannot be framed any further. If
        complete messages came before the bad octets in the same read, they
        are returned first and ``error`` is set; the next ``feed`` raises it.
        """
        if self._error is not None:
            raise self._error
        self._buffer += data
        messages: list[bytes] = []
        try:
            while (message := self._next()) is not None:
                messages.append(message)
        except ParseError as exc:
            self._error = exc
            self._buffer.clear()
            if not messages:
                raise
        return messages

    def _next(self) -> bytes | None:
        buffer = self._buffer
        if self._head_end < 0:
            if self._scanned == 0:
                self._skip_keepalives()
                if not buffer or buffer == b"\r":
                    return None
            end = buffer.find(b"\r\n\r\n", max(self._scanned - 3, 0))
            if end < 0:
                if len(buffer) > self.max_message_size:
                    raise ParseError(
                        f"header section exceeds the {self.max_message_size}-octet limit"
                    )
                self._scanned = len(buffer)
                return None
            self._head_end = end + 4
            self._body_length = _content_length(bytes(buffer[:end]))
            if self._head_end + self._body_length > self.max_message_size:
                raise ParseError(f"message exceeds the {self.max_message_size}-octet limit")
        total = self._head_end + self._body_length
        if len(buffer) < total:
            return None
        message = bytes(buffer[:total])
        del buffer[:total]
        self._head_end = -1
        self._scanned = 0
        return message

    def _skip_keepalives(self) -> None:
        """Drop the CRLFs between messages, counting each CRLFCRLF as a ping."""
        buffer = self._buffer
        skip = len(buffer) - len(buffer.lstrip(b"\r\n"))
        if skip == len(buffer) and buffer.endswith(b"\r"):
            skip -= 1  # keep a CR whose LF has not arrived yet
        if skip:
            self._crlfs += buffer.count(b"\r\n", 0, skip)
            del buffer[:skip]
        pings, self._crlfs = divmod(self._crlfs, 2)
        self.pings_received += pings
        if buffer[:1] not in (b"", b"\r"):
            self._crlfs = 0  # a message starts: a lone CRLF before it was no ping


def _content_length(head: bytes) -> int:
    """The one Content-Length of a stream message; missing or conflicting is fatal."""
    values = {
        parse_int(value.strip(b" \t\r\n").decode("latin-1"), "Content-Length")
        for value in _CONTENT_LENGTH.findall(head)
    }
    if not values:
        raise ParseError("message on a stream transport without Content-Length")
    if len(values) > 1:
        raise ParseError("conflicting Content-Length headers")
    return values.pop()
