"""What crosses the bridge between two legs, and what does not.

A B2BUA copies the session description and a few end-to-end headers from one dialogue to
the other; everything hop-by-hop (Via, Route, Contact, CSeq, tags, authentication) is its
own per leg. The body is copied byte for byte: the session descriptions stay untouched.
"""

from __future__ import annotations

from sipcore.message import ParseError, Request, Response, make_response

RELAYED_METHODS = frozenset({"INVITE", "UPDATE", "INFO", "OPTIONS", "MESSAGE"})
"""In-dialogue requests passed to the other leg (BYE ends both legs; ACK is per leg)."""

END_TO_END_HEADERS = ("Content-Disposition", "Content-Encoding", "Info-Package", "Accept")
"""Headers describing the body or the request's meaning, carried over as they are."""

ALLOW = "INVITE, ACK, CANCEL, BYE, OPTIONS, UPDATE, INFO, MESSAGE, REFER, NOTIFY"


def reason_text(error: ParseError) -> str:
    """A parse error's reason, fit for the reason phrase of a 400 (one short line)."""
    return " ".join(error.reason.split())[:100]


def relayed_headers(message: Request | Response) -> list[tuple[str, str]]:
    """The end-to-end headers of ``message`` (Content-Type included) to put on the copy."""
    headers = []
    content_type = message.headers.get("Content-Type")
    if content_type is not None and message.body:
        headers.append(("Content-Type", content_type))
    for name in END_TO_END_HEADERS:
        headers += [(name, value) for value in message.headers.get_raw(name)]
    return headers


def mirrored_response(
    request: Request,
    answer: Response,
    *,
    to_tag: str | None = None,
    contact: str | None = None,
) -> Response:
    """Our response to ``request`` saying what the other leg's ``answer`` said."""
    response = make_response(request, answer.status, answer.reason, to_tag=to_tag)
    if contact is not None and answer.status < 300:
        response.headers.add("Contact", contact)
    if 200 <= answer.status < 300 and request.method == "INVITE":
        response.headers.add("Allow", ALLOW)
    for name, value in relayed_headers(answer):
        response.headers.add(name, value)
    response.body = answer.body
    return response
