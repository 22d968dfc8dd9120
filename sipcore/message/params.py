"""Generic ``;name=value`` parameters of header values (RFC 3261 §25 generic-param)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType

from sipcore.message.grammar import PARAM_ITEM

_NEEDS_ESCAPE = re.compile(r'["\\\x00-\x08\x0b\x0c\x0e-\x1f\x7f]')
EMPTY_PARAMS: Mapping[str, str | None] = MappingProxyType({})


def parse_params(text: str | None) -> Mapping[str, str | None]:
    """``;a=1 ; b`` -> read-only ``{"a": "1", "b": None}``; names lowercased, values verbatim.

    The text must already have matched ``GENERIC_PARAMS``. Quoted values keep
    their quotes so that printing them again is lossless.
    """
    if not text:
        return EMPTY_PARAMS
    return MappingProxyType(
        {match["name"].lower(): match["value"] for match in PARAM_ITEM.finditer(text)}
    )


def format_params(params: Mapping[str, str | None]) -> str:
    """The inverse of ``parse_params``: ``;name=value`` for each parameter."""
    return "".join(
        f";{name}" if value is None else f";{name}={value}" for name, value in params.items()
    )


def unquote_value(value: str | None) -> str | None:
    """A parameter value without its quotes and backslash escapes."""
    if value is None or len(value) < 2 or value[0] != '"':
        return value
    return unquote_string(value)


def unquote_string(quoted: str) -> str:
    """The content of a quoted-string, quoted-pairs resolved."""
    inner = quoted[1:-1]
    if "\\" not in inner:
        return inner
    out: list[str] = []
    chars = iter(inner)
    for char in chars:
        out.append(next(chars, "") if char == "\\" else char)
    return "".join(out)


def quote_string(text: str) -> str:
    """``text`` as a quoted-string: backslash, quote and control characters escaped.

    CR and LF cannot appear in a quoted-string at all, so they raise ValueError.
    """
    if "\r" in text or "\n" in text:
        raise ValueError(f"a quoted string cannot hold CR or LF: {text!r}")
    return '"' + _NEEDS_ESCAPE.sub(r"\\\g<0>", text) + '"'
