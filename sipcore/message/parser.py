"""Bytes to ``Request``/``Response`` (RFC 3261 §7), lazily and defensively.

The parser does the least that makes a message safe to hand on: it splits
the head from the body, splits and unfolds header lines, indexes header
names, checks the start line, and checks the syntax (not the meaning) of the
headers the stack relies on: Via, From, To, Call-ID, CSeq, Max-Forwards,
Content-Length, Contact, Expires, Date, Route, Record-Route, Replaces and
Event (the numbers are also range-checked). Refer-To, Referred-By and
Subscription-State are checked only when read: a REFER with a bad Refer-To
must still reach the transfer layer, which answers and audits it, and real
phones send Subscription-State values a strict grammar refuses (linphone's
``reason=reason=noresource``). Objects are built only when a typed accessor
first asks.

Nothing but ``ParseError`` leaves ``parse_message``. When enough of a request
survived to send a response back (a request line, a usable top Via and a
CSeq), the error carries ``status_hint`` (400, or 505 for another SIP
version) and that partial ``request``; otherwise the message is for dropping.
"""

from __future__ import annotations

import re

from sipcore.message.errors import ParseError
from sipcore.message.grammar import (
    ADDRESS,
    ANY_URI,
    CALL_ID,
    CSEQ,
    EVENT,
    NAME_ADDR,
    NUMBER,
    REPLACES,
    REQUEST_URI,
    RFC1123_DATE,
    SWS,
    TOKEN,
    VIA,
    VIA_SENT_BY,
    comma_list,
)
from sipcore.message.headers import HEADER_KEYS, PRINTED_NAMES, Headers
from sipcore.message.message import Request, Response
from sipcore.message.values import parse_int

MAX_MESSAGE_SIZE = 65535
"""Default size limit: the largest UDP datagram; a TCP message may not exceed it either."""

_REQUEST_LINE = re.compile(rf"(?P<method>{TOKEN}) (?P<uri>[^ \t]+) SIP/2\.0")
_STATUS_LINE = re.compile(
    r"SIP/(?P<version>[0-9]+\.[0-9]+) (?P<status>[0-9]{3})(?: (?P<reason>.*))?"
)
_HEADER_NAME = re.compile(TOKEN)  # also what a method must be
_REQUEST_URI = re.compile(REQUEST_URI).fullmatch
_ANY_URI = re.compile(ANY_URI).fullmatch
_HEADER_LINE = re.compile(r"\r\n([^:\r\n]*):[ \t]*((?:[^\r\n]*[^ \t\r\n])?)[ \t]*(?=\r\n|\Z)")
_FOLD = re.compile(r"\r\n(?=[ \t])")
_UNESCAPED_NUL = re.compile(rb"(?<!\\)\x00")
_VIA_SENT_BY = re.compile(VIA_SENT_BY)
_CSEQ_SHAPE = re.compile(rf"{SWS}[0-9]+[ \t]+{TOKEN}{SWS}")

# Syntax checks run on arrival, per header key (the meaning is checked on access).
_CHECKS = {
    "via": re.compile(comma_list(VIA)).fullmatch,
    "from": re.compile(ADDRESS).fullmatch,
    "to": re.compile(ADDRESS).fullmatch,
    "contact": re.compile(rf"{SWS}\*{SWS}|{comma_list(ADDRESS)}").fullmatch,
    "call-id": re.compile(CALL_ID).fullmatch,
    "cseq": re.compile(CSEQ).fullmatch,
    "max-forwards": re.compile(NUMBER).fullmatch,
    "expires": re.compile(NUMBER).fullmatch,
    "content-length": re.compile(NUMBER).fullmatch,
    "date": re.compile(RFC1123_DATE).fullmatch,
    "route": re.compile(comma_list(NAME_ADDR)).fullmatch,
    "record-route": re.compile(comma_list(NAME_ADDR)).fullmatch,
    "replaces": re.compile(REPLACES).fullmatch,
    "event": re.compile(EVENT).fullmatch,
}
_REQUIRED = ("via", "from", "to", "call-id", "cseq")
_SINGLE = ("from", "to", "call-id", "cseq", "max-forwards")


def parse_message(data: bytes, *, max_size: int = MAX_MESSAGE_SIZE) -> Request | Response:
    """Parse one message framed by a datagram or by ``StreamFramer``.

    Octets after ``Content-Length`` are ignored (RFC 3261 §18.3); without a
    Content-Length the body runs to the end of ``data``.
    """
    try:
        return _parse(data, max_size)
    except ParseError:
        raise
    except Exception as exc:  # a parser bug must still not crash the transport
        raise ParseError(f"unparseable message ({type(exc).__name__})") from exc


def _parse(data: bytes, max_size: int) -> Request | Response:
    if not isinstance(data, bytes | bytearray | memoryview):
        raise ParseError(f"expected bytes, got {type(data).__name__}")
    data = bytes(data)
    if len(data) > max_size:
        raise ParseError(f"message of {len(data)} octets exceeds the {max_size}-octet limit")
    if data[:1] in (b"\r", b"\n"):
        data = data.lstrip(b"\r\n")
    head, body = _split_head(data)
    if b"\x00" in head and _UNESCAPED_NUL.search(head):
        raise ParseError("NUL octet in the header section")
    start, headers = _index_headers(head.decode("utf-8", "surrogateescape"))
    if start.startswith("SIP/"):
        return _response(start, headers, body)
    return _request(start, headers, body)


def _split_head(data: bytes) -> tuple[bytes, bytes]:
    end = data.find(b"\r\n\r\n")
    if end >= 0 and data.find(b"\n\n", 0, end) < 0:
        return data[:end], data[end + 4 :]
    end = data.find(b"\n\n")
    if end >= 0:
        return data[:end].rstrip(b"\r"), data[end + 2 :]
    if not data:
        raise ParseError("empty message")
    raise ParseError("no empty line ends the header section")


def _index_headers(text: str) -> tuple[str, Headers]:
    """The start line and the indexed, unfolded header fields of a decoded head."""
    crlf = text.count("\r\n")
    if text.count("\n") != crlf or text.count("\r") != crlf:
        text = _normalise_line_ends(text)
    if "\r\n " in text or "\r\n\t" in text:
        text = _FOLD.sub("", text)  # unfold: the CRLF goes, its whitespace stays
    start_end = text.find("\r\n")
    if start_end < 0:
        return text, Headers.from_checked([], [], [])
    fields = _HEADER_LINE.findall(text, start_end)
    if len(fields) != text.count("\r\n"):
        raise ParseError(f"header line without a colon: {_line_without_colon(text)[:60]!r}")
    keys: list[str] = []
    names: list[str] = []
    for name, _ in fields:
        key = HEADER_KEYS.get(name.lower())
        if key is None:
            name = name.rstrip(" \t")
            lowered = name.lower()
            key = HEADER_KEYS.get(lowered)
            if key is None:
                if not _HEADER_NAME.fullmatch(name):
                    raise ParseError(f"invalid header name {name[:60]!r}")
                keys.append(lowered)
                names.append(name)
                continue
        keys.append(key)
        names.append(PRINTED_NAMES[key])
    return text[:start_end], Headers.from_checked(keys, names, [value for _, value in fields])


def _normalise_line_ends(text: str) -> str:
    """Accept bare-LF line ends (as most stacks do); refuse a bare CR."""
    text = text.replace("\r\n", "\n")
    if "\r" in text:
        raise ParseError("bare CR in the header section")
    return text.replace("\n", "\r\n")


def _line_without_colon(text: str) -> str:
    for line in text.split("\r\n")[1:]:
        if ":" not in line:
            return line
    return ""


def _response(start: str, headers: Headers, body: bytes) -> Response:
    match = _STATUS_LINE.fullmatch(start)
    if match is None:
        raise ParseError(f"malformed Status-Line {start[:80]!r}")
    if match["version"] != "2.0":
        raise ParseError(f"unsupported SIP version SIP/{match['version']}")
    status = int(match["status"])
    if status < 100:
        raise ParseError(f"status code {status} out of range")
    _check_headers(headers)
    response = Response._from_wire(status, match["reason"] or "", headers, b"")
    _check_scalars(response)
    response.body = _frame_body(headers, body)
    return response


def _request(start: str, headers: Headers, body: bytes) -> Request:
    match = _REQUEST_LINE.fullmatch(start)
    if match is None:
        raise _malformed_request_line(start, headers)
    request = Request._from_wire(match["method"], match["uri"], headers, b"")
    try:
        if not _REQUEST_URI(match["uri"]):
            if _ANY_URI(match["uri"]):
                raise ParseError("Request-URI must not carry headers")
            raise ParseError(f"malformed Request-URI {match['uri'][:80]!r}")
        _check_headers(headers)
        _check_scalars(request)
        if request.cseq.method != request.method:
            raise ParseError(f"CSeq method {request.cseq.method} does not match {request.method}")
        request.body = _frame_body(headers, body)
    except ParseError as exc:
        raise _answerable(exc.reason, request) from None
    return request


def _malformed_request_line(start: str, headers: Headers) -> ParseError:
    """Why a request line failed; answerable when it still has a method and a version.

    Extra or trailing whitespace and a Request-URI with spaces in it (RFC 4475
    §3.1.2.8-10) are refused with 400; another SIP version with 505.
    """
    words = start.split()
    if len(words) < 3 or not _HEADER_NAME.fullmatch(words[0]) or words[-1][:4] != "SIP/":
        return ParseError(f"malformed start line {start[:80]!r}")
    partial = Request._from_wire(words[0], " ".join(words[1:-1]), headers, b"")
    if words[-1] != "SIP/2.0":
        return _answerable(f"SIP version {words[-1][4:14]} not supported", partial, 505)
    return _answerable(f"malformed Request-Line {start[:80]!r}", partial)


def _answerable(reason: str, request: Request, status: int = 400) -> ParseError:
    """A ParseError that says 'answer with ``status``' if a response can be routed back."""
    headers = request.headers
    via, cseq = headers.get("Via"), headers.get("CSeq")
    if (
        via is None
        or cseq is None
        or not _VIA_SENT_BY.match(via)
        or not _CSEQ_SHAPE.fullmatch(cseq)
    ):
        return ParseError(reason)
    return ParseError(reason, status_hint=status, request=request)


def _check_headers(headers: Headers) -> None:
    keys = headers.keys()
    for key in _REQUIRED:
        if key not in keys:
            raise ParseError(f"missing {PRINTED_NAMES[key]} header")
    for key in _SINGLE:
        if keys.count(key) > 1:
            raise ParseError(f"more than one {PRINTED_NAMES[key]} header")
    for key, value in headers.keyed_items():
        check = _CHECKS.get(key)
        if check is not None and not check(value):
            raise ParseError(f"malformed {PRINTED_NAMES[key]} {value[:80]!r}")


def _check_scalars(message: Request | Response) -> None:
    """Parse the numeric headers now, so an out-of-range value is refused on arrival.

    RFC 4475 §3.1.2.4/5: a CSeq, Max-Forwards or Expires past its range is a
    malformed message. The parsed values stay cached for the accessors.
    """
    for accessor in ("cseq", "max_forwards", "expires"):
        getattr(message, accessor)


def _frame_body(headers: Headers, body: bytes) -> bytes:
    lengths = headers.get_raw("Content-Length")
    if not lengths:
        return body
    length = parse_int(lengths[0], "Content-Length")
    if any(parse_int(other, "Content-Length") != length for other in lengths[1:]):
        raise ParseError("conflicting Content-Length headers")
    if length > len(body):
        raise ParseError(f"Content-Length {length} exceeds the {len(body)} octets received")
    return body[:length]
