"""Parsing and serialising the values of the four authentication headers.

``WWW-Authenticate``/``Proxy-Authenticate`` carry challenges and
``Authorization``/``Proxy-Authorization`` carry credentials (RFC 3261 §20,
§25.1; RFC 7235 §2.1; RFC 7616 §3.3-§3.4). One challenge value may hold several
challenges separated by commas (the HTTP form); SIP usually sends one per
header line, and both arrive here as strings, one header value at a time.

Parameter names are case-insensitive (kept lowercased), values may be tokens
or quoted strings either way, and each name may appear once per challenge.
Every malformed input raises ``AuthHeaderError`` and nothing else, so callers
can answer a bad request without guarding against surprises.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sipcore.auth.digest import format_nc


class AuthHeaderError(ValueError):
    """An authentication header value, or a parameter in it, is malformed."""


# Which header carries the challenge, and which the answer, for a 401 or a 407 response.
CHALLENGE_HEADERS = {401: "WWW-Authenticate", 407: "Proxy-Authenticate"}
CREDENTIALS_HEADERS = {401: "Authorization", 407: "Proxy-Authorization"}

_WS_PATTERN = r"(?:[ \t]|\r?\n[ \t])*"  # SP/HTAB, and line folding left in by a caller
_TOKEN_PATTERN = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_WS = re.compile(_WS_PATTERN)
_TOKEN = re.compile(_TOKEN_PATTERN)
_TOKEN68 = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
# qdtext excludes controls (HTAB aside); a quoted-pair may escape anything but CR, LF and NUL.
_QUOTED = re.compile(r'"((?:[^"\\\x00-\x08\x0a-\x1f\x7f]|\\[^\r\n\x00])*)"')
_QUOTED_PAIR = re.compile(r"\\(.)", re.DOTALL)
_PARAM_START = re.compile(_TOKEN_PATTERN + _WS_PATTERN + "=")
_NC = re.compile(r"[0-9A-Fa-f]{8}")
_UNSENDABLE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")

Params = tuple[tuple[str, str], ...]


def _is_token(text: str) -> bool:
    return _TOKEN.fullmatch(text) is not None


def _quote(value: str) -> str:
    """``value`` as a quoted-string, escaping ``"`` and ``\\``; controls cannot be sent."""
    if _UNSENDABLE.search(value):
        raise AuthHeaderError(f"control character in parameter value {value!r}")
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def _after_ws(text: str, pos: int) -> int:
    match = _WS.match(text, pos)  # matches the empty string at worst
    return pos if match is None else match.end()


def _require_token(name: str, value: str) -> None:
    if not _is_token(value):
        raise AuthHeaderError(f"{name} must be a token, got {value!r}")


def _format_extra(extra: Params) -> list[str]:
    return [f"{name}={value if _is_token(value) else _quote(value)}" for name, value in extra]


def _check_extra(extra: Params, known: frozenset[str]) -> None:
    for name, _value in extra:
        if not _is_token(name) or name != name.lower():
            raise AuthHeaderError(f"bad parameter name {name!r}")
        if name in known:
            raise AuthHeaderError(f"{name} is not an extra parameter")


@dataclass(frozen=True, slots=True, kw_only=True)
class OtherScheme:
    """A challenge or credentials of a scheme other than Digest (kept, never interpreted)."""

    scheme: str
    params: Params = ()
    token68: str | None = None

    def __post_init__(self) -> None:
        _require_token("scheme", self.scheme)
        _check_extra(self.params, frozenset())
        if self.token68 is not None and (self.params or _TOKEN68.fullmatch(self.token68) is None):
            raise AuthHeaderError(f"bad token68 {self.token68!r}")

    def __str__(self) -> str:
        if self.token68 is not None:
            return f"{self.scheme} {self.token68}"
        return f"{self.scheme} {', '.join(_format_extra(self.params))}".rstrip()


_CHALLENGE_PARAMS = frozenset({"realm", "nonce", "algorithm", "qop", "opaque", "stale", "domain"})


@dataclass(frozen=True, slots=True, kw_only=True)
class DigestChallenge:
    """One ``Digest`` challenge. ``qop`` lists the offered protection levels, lowercased."""

    realm: str
    nonce: str
    algorithm: str = "MD5"
    qop: tuple[str, ...] = ()
    opaque: str | None = None
    stale: bool = False
    domain: str | None = None
    extra: Params = ()

    def __post_init__(self) -> None:
        _require_token("algorithm", self.algorithm)
        for option in self.qop:
            _require_token("qop", option)
        _check_extra(self.extra, _CHALLENGE_PARAMS)

    def __str__(self) -> str:
        parts = [f"realm={_quote(self.realm)}"]
        if self.domain is not None:
            parts.append(f"domain={_quote(self.domain)}")
        if self.qop:
            parts.append(f"qop={_quote(','.join(self.qop))}")
        parts.append(f"nonce={_quote(self.nonce)}")
        if self.opaque is not None:
            parts.append(f"opaque={_quote(self.opaque)}")
        if self.stale:
            parts.append("stale=TRUE")
        parts.append(f"algorithm={self.algorithm}")
        parts.extend(_format_extra(self.extra))
        return "Digest " + ", ".join(parts)


_CREDENTIAL_PARAMS = frozenset(
    {"username", "realm", "nonce", "uri", "response", "algorithm", "cnonce", "opaque", "qop", "nc"}
)


@dataclass(frozen=True, slots=True, kw_only=True)
class DigestCredentials:
    """One ``Digest`` credentials value; ``algorithm`` is None when absent (meaning MD5)."""

    username: str
    realm: str
    nonce: str
    uri: str
    response: str
    algorithm: str | None = None
    qop: str | None = None
    nc: int | None = None
    cnonce: str | None = None
    opaque: str | None = None
    extra: Params = ()

    def __post_init__(self) -> None:
        if self.algorithm is not None:
            _require_token("algorithm", self.algorithm)
        if self.qop is not None:
            _require_token("qop", self.qop)
            if self.nc is None or self.cnonce is None:
                raise AuthHeaderError("qop requires nc and cnonce")
        if self.nc is not None and not 0 <= self.nc <= 0xFFFFFFFF:
            raise AuthHeaderError(f"nc out of range: {self.nc}")
        _check_extra(self.extra, _CREDENTIAL_PARAMS)

    def __str__(self) -> str:
        parts = [
            f"username={_quote(self.username)}",
            f"realm={_quote(self.realm)}",
            f"nonce={_quote(self.nonce)}",
            f"uri={_quote(self.uri)}",
        ]
        if self.algorithm is not None:
            parts.append(f"algorithm={self.algorithm}")
        if self.qop is not None:
            parts.append(f"qop={self.qop}")
        if self.nc is not None:
            parts.append(f"nc={format_nc(self.nc)}")
        if self.cnonce is not None:
            parts.append(f"cnonce={_quote(self.cnonce)}")
        parts.append(f"response={_quote(self.response)}")
        if self.opaque is not None:
            parts.append(f"opaque={_quote(self.opaque)}")
        parts.extend(_format_extra(self.extra))
        return "Digest " + ", ".join(parts)


Challenge = DigestChallenge | OtherScheme
Credentials = DigestCredentials | OtherScheme


@dataclass(slots=True)
class _Item:
    scheme: str
    params: list[tuple[str, str]]
    token68: str | None = None


class _Scanner:
    """Splits one header value into (scheme, params | token68) items, RFC 7235 §2.1 syntax."""

    def __init__(self, text: str) -> None:
        if not isinstance(text, str):
            raise AuthHeaderError(f"header value must be str, not {type(text).__name__}")
        self.text = text
        self.pos = 0

    def error(self, what: str) -> AuthHeaderError:
        return AuthHeaderError(f"{what} at offset {self.pos} in {self.text[:80]!r}")

    def skip_ws(self) -> None:
        self.pos = _after_ws(self.text, self.pos)

    def at_end(self) -> bool:
        return self.pos >= len(self.text)

    def peek(self, char: str) -> bool:
        return self.text.startswith(char, self.pos)

    def skip_list_separators(self) -> None:
        """Skip ``,`` and whitespace: lists may contain empty elements (RFC 7230 §7)."""
        self.skip_ws()
        while self.peek(","):
            self.pos += 1
            self.skip_ws()

    def token(self, what: str) -> str:
        match = _TOKEN.match(self.text, self.pos)
        if match is None:
            raise self.error(f"expected {what}")
        self.pos = match.end()
        return match.group()

    def value(self) -> str:
        if self.peek('"'):
            match = _QUOTED.match(self.text, self.pos)
            if match is None:
                raise self.error("unterminated or invalid quoted string")
            self.pos = match.end()
            return _QUOTED_PAIR.sub(r"\1", match.group(1))
        return self.token("a token or quoted string")

    def items(self) -> list[_Item]:
        items: list[_Item] = []
        self.skip_list_separators()
        while not self.at_end():
            items.append(self.item())
        if not items:
            raise self.error("no authentication scheme")
        return items

    def item(self) -> _Item:
        item = _Item(self.token("an authentication scheme"), [])
        start = self.pos
        self.skip_ws()
        if self.at_end() or self.peek(","):
            self.skip_list_separators()
            return item
        if self.pos == start:
            raise self.error("expected whitespace after the scheme")
        token68 = _TOKEN68.match(self.text, self.pos)
        if token68 is not None:
            after = _after_ws(self.text, token68.end())
            if after == len(self.text) or self.text.startswith(",", after):
                item.token68 = token68.group()
                self.pos = after
                self.skip_list_separators()
                return item
        while True:
            item.params.append(self.param())
            self.skip_ws()
            if self.at_end():
                return item
            if not self.peek(","):
                raise self.error("expected ',' between parameters")
            self.skip_list_separators()
            if self.at_end() or _PARAM_START.match(self.text, self.pos) is None:
                return item  # the next challenge's scheme, or the end

    def param(self) -> tuple[str, str]:
        name = self.token("a parameter name").lower()
        self.skip_ws()
        if not self.peek("="):
            raise self.error(f"expected '=' after {name}")
        self.pos += 1
        self.skip_ws()
        return name, self.value()


def _params_dict(item: _Item) -> dict[str, str]:
    params: dict[str, str] = {}
    for name, value in item.params:
        if name in params:
            raise AuthHeaderError(f"duplicate parameter {name!r} in {item.scheme} value")
        params[name] = value
    return params


def _required(params: dict[str, str], name: str, kind: str) -> str:
    try:
        return params.pop(name)
    except KeyError:
        raise AuthHeaderError(f"{kind} without {name}") from None


def _digest_challenge(item: _Item) -> DigestChallenge:
    params = _params_dict(item)
    realm = _required(params, "realm", "Digest challenge")
    nonce = _required(params, "nonce", "Digest challenge")
    qop: tuple[str, ...] = ()
    if "qop" in params:
        qop = tuple(part.strip().lower() for part in params.pop("qop").split(",") if part.strip())
        if not qop:
            raise AuthHeaderError("empty qop in Digest challenge")
    stale = params.pop("stale", "false").lower()
    if stale not in ("true", "false"):
        raise AuthHeaderError(f"stale must be true or false, got {stale!r}")
    return DigestChallenge(
        realm=realm,
        nonce=nonce,
        algorithm=params.pop("algorithm", "MD5"),
        qop=qop,
        opaque=params.pop("opaque", None),
        stale=stale == "true",
        domain=params.pop("domain", None),
        extra=tuple(params.items()),
    )


def _digest_credentials(item: _Item) -> DigestCredentials:
    params = _params_dict(item)
    fields = {
        name: _required(params, name, "Digest credentials")
        for name in ("username", "realm", "nonce", "uri", "response")
    }
    nc = params.pop("nc", None)
    if nc is not None and _NC.fullmatch(nc) is None:
        raise AuthHeaderError(f"nc must be 8 hex digits, got {nc!r}")
    qop = params.pop("qop", None)
    return DigestCredentials(
        **fields,
        algorithm=params.pop("algorithm", None),
        qop=None if qop is None else qop.lower(),
        nc=None if nc is None else int(nc, 16),
        cnonce=params.pop("cnonce", None),
        opaque=params.pop("opaque", None),
        extra=tuple(params.items()),
    )


def _other(item: _Item) -> OtherScheme:
    _params_dict(item)
    return OtherScheme(scheme=item.scheme, params=tuple(item.params), token68=item.token68)


def _is_digest(item: _Item) -> bool:
    if item.scheme.lower() != "digest":
        return False
    if item.token68 is not None or not item.params:
        raise AuthHeaderError("Digest needs auth-params")
    return True


def parse_challenges(value: str) -> list[Challenge]:
    """Every challenge in one ``WWW-Authenticate``/``Proxy-Authenticate`` value, in order."""
    return [
        _digest_challenge(item) if _is_digest(item) else _other(item)
        for item in _Scanner(value).items()
    ]


def parse_credentials(value: str) -> Credentials:
    """The credentials in one ``Authorization``/``Proxy-Authorization`` value (exactly one)."""
    items = _Scanner(value).items()
    if len(items) != 1:
        raise AuthHeaderError(f"expected one set of credentials, found {len(items)}")
    item = items[0]
    return _digest_credentials(item) if _is_digest(item) else _other(item)
