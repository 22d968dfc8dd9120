"""Build the few requests the transaction and dialog layers originate.

A value copied from a peer's message that cannot go into a request (a bad
method token, a header value with a line break) fails here, loudly, as a
``LocalProtocolError`` rather than producing a malformed request on the wire.
"""

from __future__ import annotations

from collections.abc import Iterable

from sipcore.errors import LocalProtocolError
from sipcore.message import URI, ParseError, Request, Response

DEFAULT_MAX_FORWARDS = 70


def build_request(
    method: str,
    uri: URI | str,
    headers: Iterable[tuple[str, str]],
    body: bytes = b"",
) -> Request:
    """A Request with ``headers`` in order (``uri`` a URI or its text).

    Content-Length is written by the message's ``to_bytes``.
    """
    try:
        return Request(method, uri, list(headers), body)
    except (ValueError, ParseError) as exc:
        raise LocalProtocolError(f"cannot build a {method} request: {exc}") from exc


def build_non_2xx_ack(invite: Request, response: Response) -> Request:
    """The ACK for a non-2xx final response, per RFC 3261 §17.1.1.3.

    Same Request-URI, Call-ID, From and CSeq number as the INVITE; To from the
    response (it carries the tag); one Via, the INVITE's top Via (same branch);
    the INVITE's Route headers; no body.
    """
    headers = [
        ("Via", invite.headers.get_all("Via")[0]),
        ("Max-Forwards", str(DEFAULT_MAX_FORWARDS)),
    ]
    headers += [("Route", route) for route in invite.headers.get_all("Route")]
    headers += [
        ("From", str(invite.from_addr)),
        ("To", str(response.to_addr)),
        ("Call-ID", invite.call_id),
        ("CSeq", f"{invite.cseq.seq} ACK"),
    ]
    return build_request("ACK", invite.uri, headers)


def build_cancel(request: Request) -> Request:
    """The CANCEL for a pending ``request`` (an INVITE), per RFC 3261 §9.1.

    Same Request-URI, Call-ID, From, To and CSeq number; one Via, the request's
    top Via (so the CANCEL's own client transaction shares its branch and the
    server matches it to the INVITE); the request's Route headers.
    """
    if request.method in ("ACK", "CANCEL"):
        raise LocalProtocolError(f"a {request.method} cannot be cancelled")
    headers = [
        ("Via", request.headers.get_all("Via")[0]),
        ("Max-Forwards", str(DEFAULT_MAX_FORWARDS)),
    ]
    headers += [("Route", route) for route in request.headers.get_all("Route")]
    headers += [
        ("From", str(request.from_addr)),
        ("To", str(request.to_addr)),
        ("Call-ID", request.call_id),
        ("CSeq", f"{request.cseq.seq} CANCEL"),
    ]
    return build_request("CANCEL", request.uri, headers)
