"""SIP, SIPS and tel URIs (RFC 3261 §19.1, RFC 3966); other schemes kept opaque.

A parsed URI remembers its text, so ``str(uri)`` gives back exactly what was
received; a URI built in code is printed from its parts with the escaping the
grammar requires. Components are unescaped (``%41`` reads as ``A``, once:
``%2541`` reads as ``%41``), parameter names are lowercased, and IPv6 hosts
are held without their brackets.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType
from urllib.parse import quote, unquote

from sipcore.message.errors import ParseError
from sipcore.message.grammar import OTHER_URI, SCHEME, SIP_URI, TEL_URI
from sipcore.message.memo import memoized
from sipcore.message.values import Replaces

_SIP_RE = re.compile(SIP_URI)
_TEL_RE = re.compile(TEL_URI)
_SCHEME_RE = re.compile(SCHEME)
_OTHER_RE = re.compile(OTHER_URI)
_UNRESERVED = "-_.!~*'()"
_SAFE_USER = _UNRESERVED + "&=+$,;?/"
_SAFE_PASSWORD = _UNRESERVED + "&=+$,"
_SAFE_PARAM = _UNRESERVED + "[]/:&+$"
_SAFE_HEADER = _UNRESERVED + "[]/?:+$"
_NO_PARAMS: Mapping[str, str | None] = MappingProxyType({})
_NO_HEADERS: Mapping[str, str] = MappingProxyType({})
_ALWAYS_COMPARED_PARAMS = ("user", "ttl", "method", "maddr", "transport")
_TEL_VISUAL_SEPARATORS = re.compile(r"[-.()]")


def unescape(text: str) -> str:
    """Decode %HH escapes once; invalid escapes stay as they are, non-UTF-8 survives."""
    if "%" not in text:
        return text
    return unquote(text, errors="surrogateescape")


def escape(text: str, safe: str) -> str:
    """Escape every character outside the unreserved set and ``safe``."""
    return quote(text, safe=safe, errors="surrogateescape")


def format_host(host: str) -> str:
    """A host as it appears in a URI or Via: IPv6 addresses in brackets."""
    return f"[{host}]" if ":" in host else host


def _strip_brackets(host: str) -> str:
    return host[1:-1] if host.startswith("[") else host


class URI:
    """A URI value object: ``.scheme``, ``.user``, ``.host``, ``.port``, ``.params``, ``.headers``.

    For schemes other than sip, sips and tel only ``.scheme`` and ``.opaque``
    (the text after the colon) are set. ``.params`` and ``.headers`` are
    read-only mappings; build a changed URI with ``with_param`` and friends
    rather than assigning attributes (a parsed URI prints its original text).
    """

    __slots__ = ("_text", "headers", "host", "opaque", "params", "password", "port", "scheme",
                 "user")  # fmt: skip

    def __init__(
        self,
        scheme: str,
        *,
        user: str | None = None,
        password: str | None = None,
        host: str | None = None,
        port: int | None = None,
        params: Mapping[str, str | None] | None = None,
        headers: Mapping[str, str] | None = None,
        opaque: str | None = None,
    ) -> None:
        self.scheme = scheme.lower()
        self.user = user
        self.password = password
        self.host = _strip_brackets(host) if host else host
        self.port = port
        self.params: Mapping[str, str | None] = (
            MappingProxyType({k.lower(): v for k, v in params.items()}) if params else _NO_PARAMS
        )
        self.headers: Mapping[str, str] = (
            MappingProxyType(dict(headers)) if headers else _NO_HEADERS
        )
        self.opaque = opaque
        self._text: str | None = None
        if port is not None and not 0 <= port <= 65535:
            raise ValueError(f"port out of range: {port}")
        if not _SCHEME_RE.fullmatch(self.scheme):
            raise ValueError(f"invalid URI scheme {scheme!r}")
        if self.scheme in ("sip", "sips") and not host:
            raise ValueError("a SIP URI needs a host")
        if self.scheme == "tel" and not user:
            raise ValueError("a tel URI needs a number (user=)")
        if (opaque is None) != (self.scheme in ("sip", "sips", "tel")):
            raise ValueError(
                "opaque is for schemes other than sip, sips and tel, and required there"
            )

    @classmethod
    def parse(cls, text: str) -> URI:
        """Parse a URI; ``ParseError`` if it does not follow its scheme's grammar.

        The same text gives the same (immutable) object while it is remembered (``memo``).
        """
        if cls is URI:
            return _parse_uri(text)
        return cls._parse_text(text)

    @classmethod
    def _parse_text(cls, text: str) -> URI:
        scheme = text[: text.find(":")].lower()
        if scheme in ("sip", "sips"):
            match = _SIP_RE.fullmatch(text)
        elif scheme == "tel":
            match = _TEL_RE.fullmatch(text)
        else:
            match = _OTHER_RE.fullmatch(text)
            if match is None:
                raise ParseError(f"malformed URI {text[:100]!r}")
            uri = cls(match["scheme"], opaque=match["opaque"])
            uri._text = text
            return uri
        if match is None:
            raise ParseError(f"malformed {scheme} URI {text[:100]!r}")
        uri = cls.__new__(cls)
        uri.scheme = scheme
        uri.opaque = None
        uri._text = text
        if scheme == "tel":
            _, user, params = match.groups()
            uri.user, uri.password, uri.host, uri.port = user, None, None, None
            uri.params = _parse_params(params)
            uri.headers = _NO_HEADERS
            return uri
        _, user, password, host, port, params, headers = match.groups()
        uri.user = unescape(user) if user is not None else None
        uri.password = unescape(password) if password is not None else None
        uri.host = host[1:-1] if host[0] == "[" else host
        uri.port = int(port) if port else None
        uri.params = _parse_params(params)
        uri.headers = _parse_headers(headers)
        return uri

    @property
    def transport(self) -> str | None:
        """The ``transport`` parameter, lowercased."""
        value = self.params.get("transport")
        return value.lower() if value else None

    @property
    def replaces(self) -> Replaces | None:
        """The Replaces embedded as a URI header (``?Replaces=...``, as Refer-To carries it)."""
        for name, value in self.headers.items():
            if name.lower() == "replaces":
                return Replaces.parse(value)
        return None

    def with_param(self, name: str, value: str | None = None) -> URI:
        """A copy with parameter ``name`` set (``value=None`` for a flag)."""
        params = dict(self.params)
        params[name.lower()] = value
        return self._copy(params, self.headers)

    def without_param(self, name: str) -> URI:
        """A copy without parameter ``name``."""
        params = {k: v for k, v in self.params.items() if k != name.lower()}
        return self._copy(params, self.headers)

    def without_headers(self) -> URI:
        """A copy with no ``?headers`` part (what a Request-URI built from it must be)."""
        return self._copy(self.params, {})

    def _copy(self, params: Mapping[str, str | None], headers: Mapping[str, str]) -> URI:
        return URI(
            self.scheme,
            user=self.user,
            password=self.password,
            host=self.host,
            port=self.port,
            params=params,
            headers=headers,
            opaque=self.opaque,
        )

    def __str__(self) -> str:
        if self._text is None:
            self._text = self._format()
        return self._text

    def _format(self) -> str:
        if self.opaque is not None:
            return f"{self.scheme}:{self.opaque}"
        parts = [self.scheme, ":"]
        if self.user is not None:
            parts.append(escape(self.user, _SAFE_USER if self.scheme != "tel" else "+#*()-."))
            if self.password is not None:
                parts += [":", escape(self.password, _SAFE_PASSWORD)]
            if self.scheme != "tel":
                parts.append("@")
        if self.host:
            parts.append(format_host(self.host))
        if self.port is not None:
            parts.append(f":{self.port}")
        for name, value in self.params.items():
            parts += [";", escape(name, _SAFE_PARAM)]
            if value is not None:
                parts += ["=", escape(value, _SAFE_PARAM)]
        if self.headers:
            parts.append("?")
            parts.append(
                "&".join(
                    f"{escape(k, _SAFE_HEADER)}={escape(v, _SAFE_HEADER)}"
                    for k, v in self.headers.items()
                )
            )
        return "".join(parts)

    def _identity(self) -> tuple[object, ...]:
        """The parts that must always be equal (and so may be hashed)."""
        if self.opaque is not None:
            return (self.scheme, self.opaque)
        user = self.user
        if self.scheme == "tel" and user is not None:
            user = _TEL_VISUAL_SEPARATORS.sub("", user).lower()
        host = self.host.lower() if self.host else None
        return (self.scheme, user, self.password, host, self.port)

    def __eq__(self, other: object) -> bool:
        """URI equivalence after RFC 3261 §19.1.4 (and RFC 3966 §4 for tel).

        User and password compare case-sensitively, everything else not; a
        parameter present in both must match; ``user``, ``ttl``, ``method``,
        ``maddr`` and ``transport`` must match even when only one URI has
        them; other parameters present in only one URI are ignored; headers
        must all match.
        """
        if not isinstance(other, URI):
            return NotImplemented
        if self._identity() != other._identity():
            return False
        mine, theirs = _lowered(self.params), _lowered(other.params)
        for name in mine.keys() & theirs.keys():
            if mine[name] != theirs[name]:
                return False
        for name in _ALWAYS_COMPARED_PARAMS:
            if (name in mine) != (name in theirs):
                return False
        return _lowered(self.headers) == _lowered(other.headers)

    def __hash__(self) -> int:
        return hash(self._identity())

    def __repr__(self) -> str:
        return f"URI({str(self)!r})"


def _lowered(mapping: Mapping[str, str | None]) -> dict[str, str | None]:
    return {k.lower(): v.lower() if v is not None else None for k, v in mapping.items()}


def _parse_params(text: str | None) -> Mapping[str, str | None]:
    if not text:
        return _NO_PARAMS
    params: dict[str, str | None] = {}
    for item in text[1:].split(";"):
        name, sep, value = item.partition("=")
        params[unescape(name).lower()] = unescape(value) if sep else None
    return MappingProxyType(params)


def _parse_headers(text: str | None) -> Mapping[str, str]:
    if not text:
        return _NO_HEADERS
    headers: dict[str, str] = {}
    for item in text.split("&"):
        name, _, value = item.partition("=")
        headers[unescape(name)] = unescape(value)
    return MappingProxyType(headers)


_parse_uri = memoized(URI._parse_text)
