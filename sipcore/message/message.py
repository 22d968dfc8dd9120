"""Requests and responses, with typed header accessors parsed on first use.

The accessors read ``headers`` through its cache, so each header value is
parsed at most once per state of the header section and never when nobody
asks. A malformed value raises ``ParseError`` from the accessor.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from sipcore.message.address import Address
from sipcore.message.errors import ParseError
from sipcore.message.grammar import TOKEN_RE
from sipcore.message.headers import Headers
from sipcore.message.uri import URI
from sipcore.message.values import (
    MAX_CSEQ,
    CSeq,
    Event,
    Replaces,
    SubscriptionState,
    parse_int,
    parse_token_set,
)
from sipcore.message.via import Via

SIP_VERSION = "SIP/2.0"
_ENCODING = ("utf-8", "surrogateescape")


Builder = Callable[[Headers], Any]


def _single(headers: Headers, name: str) -> str:
    value = headers.get(name)
    if value is None:
        raise ParseError(f"missing {name} header")
    return value


def _required(name: str, parse: Callable[[str], Any]) -> Builder:
    return lambda headers: parse(_single(headers, name))


def _optional(name: str, parse: Callable[[str], Any]) -> Builder:
    def build(headers: Headers) -> Any:
        value = headers.get(name)
        return None if value is None else parse(value)

    return build


def _each(name: str, parse: Callable[[str], Any]) -> Builder:
    return lambda headers: [parse(value) for value in headers.get_all(name)]


def _number(name: str, maximum: int) -> Builder:
    return _optional(name, lambda value: parse_int(value, name, maximum))


def _contacts(headers: Headers) -> list[Address]:
    if any(value.strip(" \t") == "*" for value in headers.get_raw("Contact")):
        return []
    return [Address.parse(value) for value in headers.get_all("Contact")]


def _route(value: str) -> Address:
    return Address.parse(value, name_addr_only=True)


def _token_set(name: str) -> Builder:
    return lambda headers: parse_token_set(headers.get_all(name), name)


# How each typed accessor builds its value from the headers (cached per header state).
_BUILDERS: dict[str, Builder] = {
    "vias": _each("Via", Via.parse),
    "from": _required("From", Address.parse),
    "to": _required("To", Address.parse),
    "call-id": _required("Call-ID", lambda value: value.strip(" \t")),
    "cseq": _required("CSeq", CSeq.parse),
    "max-forwards": _number("Max-Forwards", 255),
    "expires": _number("Expires", MAX_CSEQ),
    "min-expires": _number("Min-Expires", MAX_CSEQ),
    "contacts": _contacts,
    "routes": _each("Route", _route),
    "record-routes": _each("Record-Route", _route),
    "refer-to": _optional("Refer-To", Address.parse),
    "referred-by": _optional("Referred-By", Address.parse),
    "replaces": _optional("Replaces", Replaces.parse),
    "event": _optional("Event", Event.parse),
    "subscription-state": _optional("Subscription-State", SubscriptionState.parse),
    "supported": _token_set("Supported"),
    "require": _token_set("Require"),
    "proxy-require": _token_set("Proxy-Require"),
    "unsupported": _token_set("Unsupported"),
    "allow": _token_set("Allow"),
}


class Message:
    """What requests and responses share: headers, body and the typed accessors."""

    __slots__ = ("body", "headers")

    headers: Headers
    body: bytes

    def _typed(self, key: str) -> Any:
        headers = self.headers
        try:  # the cache, read here directly: typed accessors run a hundred times per call
            return headers._cache[key]
        except KeyError:
            return headers.typed(key, _BUILDERS[key])

    @property
    def vias(self) -> list[Via]:
        """Every Via, top (most recent hop) first."""
        return list(self._typed("vias"))

    @property
    def top_via(self) -> Via:
        vias = self._typed("vias")
        if not vias:
            raise ParseError("missing Via header")
        return vias[0]

    @property
    def from_addr(self) -> Address:
        return self._typed("from")

    @property
    def to_addr(self) -> Address:
        return self._typed("to")

    @property
    def call_id(self) -> str:
        return self._typed("call-id")

    @property
    def cseq(self) -> CSeq:
        return self._typed("cseq")

    @property
    def max_forwards(self) -> int | None:
        return self._typed("max-forwards")

    @property
    def contacts(self) -> list[Address]:
        """Contact addresses; empty for ``Contact: *`` (see ``contact_star``)."""
        return list(self._typed("contacts"))

    @property
    def contact_star(self) -> bool:
        """True for the REGISTER wildcard ``Contact: *`` (RFC 3261 §10.2.2)."""
        return any(value.strip() == "*" for value in self.headers.get_raw("Contact"))

    @property
    def routes(self) -> list[Address]:
        return list(self._typed("routes"))

    @property
    def record_routes(self) -> list[Address]:
        return list(self._typed("record-routes"))

    @property
    def expires(self) -> int | None:
        return self._typed("expires")

    @property
    def min_expires(self) -> int | None:
        return self._typed("min-expires")

    @property
    def content_type(self) -> str | None:
        """The media type (``type/subtype``, lowercased) without its parameters."""
        value = self.headers.get("Content-Type")
        if value is None:
            return None
        return value.split(";", 1)[0].strip(" \t").lower()

    @property
    def refer_to(self) -> Address | None:
        return self._typed("refer-to")

    @property
    def referred_by(self) -> Address | None:
        return self._typed("referred-by")

    @property
    def replaces(self) -> Replaces | None:
        return self._typed("replaces")

    @property
    def event(self) -> Event | None:
        return self._typed("event")

    @property
    def subscription_state(self) -> SubscriptionState | None:
        return self._typed("subscription-state")

    @property
    def refer_sub(self) -> bool | None:
        """The Refer-Sub header (RFC 4488): ``False`` asks for no implicit subscription."""
        value = self.headers.get("Refer-Sub")
        if value is None:
            return None
        flag = value.split(";", 1)[0].strip(" \t").lower()
        if flag not in ("true", "false"):
            raise ParseError(f"malformed Refer-Sub {value[:40]!r}")
        return flag == "true"

    @property
    def supported(self) -> set[str]:
        return set(self._typed("supported"))

    @property
    def require(self) -> set[str]:
        return set(self._typed("require"))

    @property
    def proxy_require(self) -> set[str]:
        return set(self._typed("proxy-require"))

    @property
    def unsupported(self) -> set[str]:
        return set(self._typed("unsupported"))

    @property
    def allow(self) -> set[str]:
        return set(self._typed("allow"))

    def replace_top_via(self, via: Via) -> None:
        """Put ``via`` in place of the top Via (e.g. after adding received/rport)."""
        self.headers.set_first("Via", str(via))

    def pop_top_via(self) -> Via:
        """Remove the top Via and return it (what a proxy does to a response)."""
        via = self.top_via
        self.headers.pop_first("Via")
        return via

    def _start_line(self) -> str:
        raise NotImplementedError

    def to_bytes(self) -> bytes:
        """The wire form: start line, headers, a Content-Length that matches the body."""
        lines = [self._start_line(), *self.headers.wire_lines(len(self.body))]
        lines.append("\r\n")
        return "\r\n".join(lines).encode(*_ENCODING) + self.body

    def _comparable_headers(self) -> list[tuple[str, str]]:
        return [(k, v) for k, v in self.headers.keyed_items() if k != "content-length"]


class Request(Message):
    """A SIP request. ``uri`` may be given as text; it is parsed on first access."""

    __slots__ = ("_uri", "_uri_text", "method")

    def __init__(
        self,
        method: str,
        uri: URI | str,
        headers: Headers | Iterable[tuple[str, str]] | None = None,
        body: bytes = b"",
    ) -> None:
        if not TOKEN_RE.fullmatch(method):
            raise ValueError(f"invalid method {method!r}")
        self.method = method
        self.uri = uri
        self.headers = headers if isinstance(headers, Headers) else Headers(headers or ())
        self.body = bytes(body)

    @classmethod
    def _from_wire(cls, method: str, uri_text: str, headers: Headers, body: bytes) -> Request:
        request = cls.__new__(cls)
        request.method = method
        request._uri = None
        request._uri_text = uri_text
        request.headers = headers
        request.body = body
        return request

    @property
    def uri(self) -> URI:
        if self._uri is None:
            self._uri = URI.parse(self._uri_text)
        return self._uri

    @uri.setter
    def uri(self, value: URI | str) -> None:
        self._uri = value if isinstance(value, URI) else URI.parse(value)
        self._uri_text = str(self._uri)

    def _start_line(self) -> str:
        if self._uri is not None:
            self._uri_text = str(self._uri)
        return f"{self.method} {self._uri_text} {SIP_VERSION}"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Request):
            return NotImplemented
        return (
            self.method == other.method
            and self._start_line() == other._start_line()
            and self._comparable_headers() == other._comparable_headers()
            and self.body == other.body
        )

    __hash__ = None

    def __repr__(self) -> str:
        return (
            f"<Request {self._start_line()!r} headers={len(self.headers)} body={len(self.body)}B>"
        )


class Response(Message):
    """A SIP response."""

    __slots__ = ("reason", "status")

    def __init__(
        self,
        status: int,
        reason: str = "",
        headers: Headers | Iterable[tuple[str, str]] | None = None,
        body: bytes = b"",
    ) -> None:
        if not 100 <= status <= 699:
            raise ValueError(f"status code out of range: {status}")
        if "\r" in reason or "\n" in reason:
            raise ValueError("reason phrase must be one line")
        self.status = status
        self.reason = reason
        self.headers = headers if isinstance(headers, Headers) else Headers(headers or ())
        self.body = bytes(body)

    @classmethod
    def _from_wire(cls, status: int, reason: str, headers: Headers, body: bytes) -> Response:
        response = cls.__new__(cls)
        response.status = status
        response.reason = reason
        response.headers = headers
        response.body = body
        return response

    def _start_line(self) -> str:
        return f"{SIP_VERSION} {self.status} {self.reason}"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Response):
            return NotImplemented
        return (
            self.status == other.status
            and self.reason == other.reason
            and self._comparable_headers() == other._comparable_headers()
            and self.body == other.body
        )

    __hash__ = None

    def __repr__(self) -> str:
        return f"<Response {self.status} {self.reason!r} headers={len(self.headers)}>"
