"""Building a response to a request (RFC 3261 §8.2.6) and the standard reason phrases."""

from __future__ import annotations

from sipcore.message.address import Address
from sipcore.message.errors import ParseError
from sipcore.message.headers import Headers
from sipcore.message.message import Request, Response

REASON_PHRASES = {
    100: "Trying", 180: "Ringing", 181: "Call Is Being Forwarded", 182: "Queued",
    183: "Session Progress", 199: "Early Dialog Terminated", 200: "OK", 202: "Accepted",
    204: "No Notification", 300: "Multiple Choices", 301: "Moved Permanently",
    302: "Moved Temporarily", 305: "Use Proxy", 380: "Alternative Service", 400: "Bad Request",
    401: "Unauthorized", 402: "Payment Required", 403: "Forbidden", 404: "Not Found",
    405: "Method Not Allowed", 406: "Not Acceptable", 407: "Proxy Authentication Required",
    408: "Request Timeout", 410: "Gone", 412: "Conditional Request Failed",
    413: "Request Entity Too Large", 414: "Request-URI Too Long", 415: "Unsupported Media Type",
    416: "Unsupported URI Scheme", 417: "Unknown Resource-Priority", 420: "Bad Extension",
    421: "Extension Required", 422: "Session Interval Too Small", 423: "Interval Too Brief",
    428: "Use Identity Header", 429: "Provide Referrer Identity", 433: "Anonymity Disallowed",
    436: "Bad Identity-Info", 437: "Unsupported Certificate", 438: "Invalid Identity Header",
    439: "First Hop Lacks Outbound Support", 440: "Max-Breadth Exceeded",
    469: "Bad Info Package", 470: "Consent Needed", 480: "Temporarily Unavailable",
    481: "Call/Transaction Does Not Exist", 482: "Loop Detected", 483: "Too Many Hops",
    484: "Address Incomplete", 485: "Ambiguous", 486: "Busy Here", 487: "Request Terminated",
    488: "Not Acceptable Here", 489: "Bad Event", 491: "Request Pending", 493: "Undecipherable",
    494: "Security Agreement Required", 500: "Server Internal Error", 501: "Not Implemented",
    502: "Bad Gateway", 503: "Service Unavailable", 504: "Server Time-out",
    505: "Version Not Supported", 513: "Message Too Large",
    555: "Push Notification Service Not Supported", 580: "Precondition Failure",
    600: "Busy Everywhere", 603: "Decline",
    604: "Does Not Exist Anywhere", 606: "Not Acceptable", 607: "Unwanted", 608: "Rejected",
}  # fmt: skip

_GENERIC_REASONS = {1: "Provisional", 2: "Success", 3: "Redirection", 4: "Client Error",
                    5: "Server Error", 6: "Global Failure"}  # fmt: skip


def reason_phrase(status: int) -> str:
    """The RFC reason phrase for ``status``, or its class name for unlisted codes."""
    return REASON_PHRASES.get(status) or _GENERIC_REASONS.get(status // 100, "Unknown")


def make_response(
    request: Request, status: int, reason: str | None = None, *, to_tag: str | None = None
) -> Response:
    """A response that copies Via (all, in order), From, To, Call-ID and CSeq from ``request``.

    ``to_tag`` is added to To when To has no tag yet (RFC 3261 §8.2.6.2); the
    dialog layer passes the same tag for every response of one dialog. A 100
    also echoes Timestamp (§8.2.6.1). Values are copied as received, so this
    works on the partial request of a ``ParseError`` too.
    """
    headers = Headers()
    for value in request.headers.get_raw("Via"):
        headers.add("Via", value)
    for name in ("From", "To", "Call-ID", "CSeq"):
        value = request.headers.get(name)
        if value is None:
            continue
        if name == "To" and to_tag is not None:
            value = _with_to_tag(value, to_tag)
        headers.add(name, value)
    if status == 100 and (timestamp := request.headers.get("Timestamp")) is not None:
        headers.add("Timestamp", timestamp)
    headers.add("Content-Length", "0")
    return Response(status, reason if reason is not None else reason_phrase(status), headers)


def _with_to_tag(value: str, tag: str) -> str:
    try:
        address = Address.parse(value)
    except ParseError:
        return value
    if address.tag is not None:
        return value
    return f"{value};tag={tag}"
