"""name-addr / addr-spec values: From, To, Contact, Route, Refer-To (RFC 3261 §20.10)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType

from sipcore.message.errors import ParseError
from sipcore.message.grammar import ADDRESS, NAME_ADDR
from sipcore.message.memo import memoized
from sipcore.message.params import (
    EMPTY_PARAMS,
    format_params,
    parse_params,
    quote_string,
    unquote_string,
)
from sipcore.message.uri import URI
from sipcore.message.values import parse_int

_ADDRESS_RE = re.compile(ADDRESS)
_NAME_ADDR_RE = re.compile(NAME_ADDR)


class Address:
    """A display name, a URI and header parameters (``tag``, ``expires``, ``q``, ...).

    A value object: parameters are read-only and ``with_param``/``with_tag``
    return changed copies. A parsed address prints exactly as received.
    """

    __slots__ = ("_text", "display_name", "params", "uri")

    def __init__(
        self,
        uri: URI,
        display_name: str | None = None,
        params: Mapping[str, str | None] | None = None,
    ) -> None:
        if display_name is not None and ("\r" in display_name or "\n" in display_name):
            raise ValueError(f"display name must be one line: {display_name!r}")
        self.uri = uri
        self.display_name = display_name
        self.params: Mapping[str, str | None] = (
            MappingProxyType({k.lower(): v for k, v in params.items()}) if params else EMPTY_PARAMS
        )
        self._text: str | None = None

    @classmethod
    def parse(cls, text: str, *, name_addr_only: bool = False) -> Address:
        """Parse one address; ``name_addr_only`` for Route/Record-Route, which need ``<...>``.

        The same text gives the same (immutable) object while it is remembered (``memo``).
        """
        if cls is Address:
            return _parse_address(text, name_addr_only)
        return cls._parse_text(text, name_addr_only)

    @classmethod
    def _parse_text(cls, text: str, name_addr_only: bool) -> Address:
        match = (_NAME_ADDR_RE if name_addr_only else _ADDRESS_RE).fullmatch(text)
        if match is None:
            raise ParseError(f"malformed address {text[:100]!r}")
        quoted, tokens, uri_text, params = match.group("quoted", "tokens", "uri", "params")
        if uri_text is None:
            uri_text = match["bare"]
        if quoted is not None:
            display: str | None = unquote_string(quoted)
        elif tokens is not None:
            display = " ".join(tokens.split())
        else:
            display = None
        address = cls.__new__(cls)
        address.uri = URI.parse(uri_text)
        address.display_name = display
        address.params = parse_params(params)
        address._text = text.strip(" \t")
        return address

    @property
    def tag(self) -> str | None:
        return self.params.get("tag")

    @property
    def expires(self) -> int | None:
        """The ``expires`` parameter of a Contact, as a number of seconds."""
        value = self.params.get("expires")
        return None if value is None else parse_int(value, "Contact expires")

    @property
    def q(self) -> float | None:
        """The ``q`` preference of a Contact (0 to 1)."""
        value = self.params.get("q")
        if value is None:
            return None
        try:
            q = float(value)
        except ValueError:
            raise ParseError(f"malformed q value {value[:20]!r}") from None
        if not 0.0 <= q <= 1.0:
            raise ParseError(f"q value out of range: {value[:20]!r}")
        return q

    def with_param(self, name: str, value: str | None = None) -> Address:
        """A copy with header parameter ``name`` set (``None`` for a flag)."""
        params = dict(self.params)
        params[name.lower()] = value
        return Address(self.uri, self.display_name, params)

    def with_tag(self, tag: str) -> Address:
        return self.with_param("tag", tag)

    def without_tag(self) -> Address:
        """A copy without the dialogue's ``tag``: the party itself, whichever dialogue."""
        params = {name: value for name, value in self.params.items() if name != "tag"}
        return Address(self.uri, self.display_name, params)

    def __str__(self) -> str:
        if self._text is None:
            display = f"{quote_string(self.display_name)} " if self.display_name else ""
            self._text = f"{display}<{self.uri}>{format_params(self.params)}"
        return self._text

    def _comparable(self) -> tuple[object, ...]:
        return (self.display_name or None, self.uri, frozenset(self.params.items()))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Address):
            return NotImplemented
        return self._comparable() == other._comparable()

    def __hash__(self) -> int:
        return hash(self._comparable())

    def __repr__(self) -> str:
        return f"Address({str(self)!r})"


def _tagged(text: str) -> bool:
    """A From or To of one dialogue (``tag=``), which no other call's messages carry."""
    return "tag=" in text


_parse_address = memoized(Address._parse_text, transient=_tagged)
