"""The header section: an ordered, case-insensitive multi-dict of raw values.

Values are kept exactly as received (unfolded, outer whitespace stripped) and
are only parsed when a typed accessor asks, so a relaying element pays for the
headers it reads and nothing else. Names the stack knows are printed in their
canonical form (compact forms expand: ``v`` becomes ``Via``); unknown names
keep the spelling they arrived with.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from sipcore.message.errors import ParseError
from sipcore.message.grammar import QUOTED_STRING, TOKEN

_CANONICAL_NAMES = (
    "Accept", "Accept-Contact", "Accept-Encoding", "Accept-Language", "Alert-Info", "Allow",
    "Allow-Events", "Authentication-Info", "Authorization", "Call-ID", "Call-Info", "Contact",
    "Content-Disposition", "Content-Encoding", "Content-Language", "Content-Length",
    "Content-Type", "CSeq", "Date", "Diversion", "Error-Info", "Event", "Expires", "From",
    "History-Info", "Identity", "Identity-Info", "In-Reply-To", "Join", "Max-Forwards",
    "MIME-Version", "Min-Expires", "Min-SE", "Organization", "P-Asserted-Identity",
    "P-Preferred-Identity", "Path", "Priority", "Privacy", "Proxy-Authenticate",
    "Proxy-Authorization", "Proxy-Require", "RAck", "Reason", "Record-Route", "Refer-Sub",
    "Refer-To", "Referred-By", "Reject-Contact", "Replaces", "Reply-To", "Request-Disposition",
    "Require", "Retry-After", "Route", "RSeq", "Server", "Service-Route", "Session-Expires",
    "SIP-ETag", "SIP-If-Match", "Subject", "Subscription-State", "Supported", "Target-Dialog",
    "Timestamp", "To", "Unsupported", "User-Agent", "Via", "Warning", "WWW-Authenticate",
)  # fmt: skip

# RFC 3261 §7.3.3 and the extensions that define compact forms (RFC 3265,
# 3515, 3841, 3892, 4028, 4474).
_COMPACT_FORMS = {
    "a": "Accept-Contact", "b": "Referred-By", "c": "Content-Type", "d": "Request-Disposition",
    "e": "Content-Encoding", "f": "From", "i": "Call-ID", "j": "Reject-Contact", "k": "Supported",
    "l": "Content-Length", "m": "Contact", "n": "Identity-Info", "o": "Event", "r": "Refer-To",
    "s": "Subject", "t": "To", "u": "Allow-Events", "v": "Via", "x": "Session-Expires",
    "y": "Identity",
}  # fmt: skip

# Headers whose grammar is ``item *(COMMA item)``; only these are split on
# commas. Authorization, WWW-Authenticate, Date, Retry-After and unknown
# headers are never split: commas inside them are not list separators.
LIST_HEADERS = frozenset(
    name.lower()
    for name in (
        "Accept", "Accept-Contact", "Accept-Encoding", "Accept-Language", "Alert-Info", "Allow",
        "Allow-Events", "Call-Info", "Contact", "Content-Encoding", "Content-Language",
        "Diversion", "Error-Info", "History-Info", "In-Reply-To", "P-Asserted-Identity",
        "P-Preferred-Identity", "Path", "Proxy-Require", "Reason", "Record-Route",
        "Reject-Contact", "Request-Disposition", "Require", "Route", "Service-Route", "Supported",
        "Unsupported", "Via", "Warning",
    )
)  # fmt: skip

PRINTED_NAMES: dict[str, str] = {name.lower(): name for name in _CANONICAL_NAMES}
HEADER_KEYS: dict[str, str] = {name.lower(): name.lower() for name in _CANONICAL_NAMES}
HEADER_KEYS.update({short: full.lower() for short, full in _COMPACT_FORMS.items()})
_KEYS_OF_CANONICAL_NAMES = {name: name.lower() for name in _CANONICAL_NAMES}
_TOKEN_NAME = re.compile(TOKEN)
_FORBIDDEN_IN_VALUE = re.compile(r"[\r\n]|(?<!\\)\x00")
_LIST_ITEM = re.compile(rf'(?:[^,"<]+|{QUOTED_STRING}|<[^>]*>)*')


def header_key(name: str) -> str:
    """The lookup key of a header name: lowercase, compact forms expanded."""
    key = _KEYS_OF_CANONICAL_NAMES.get(name)  # the common case, without lowercasing
    if key is not None:
        return key
    lowered = name.lower()
    return HEADER_KEYS.get(lowered, lowered)


def display_name(name: str) -> tuple[str, str]:
    """``(key, name to print)`` for a header name as received or as given by our code."""
    lowered = name.lower()
    key = HEADER_KEYS.get(lowered)
    if key is None:
        return lowered, name
    return key, PRINTED_NAMES[key]


def split_list(value: str) -> list[str]:
    """Split a comma-separated header value, never inside quotes or ``<...>``.

    Empty elements are dropped, as RFC 7230's list rule allows. An unbalanced
    quote or bracket raises ``ParseError``.
    """
    if "," not in value:
        stripped = value.strip(" \t")
        return [stripped] if stripped else []
    items: list[str] = []
    pos, end = 0, len(value)
    while True:
        match = _LIST_ITEM.match(value, pos)
        stop = match.end() if match else pos
        item = value[pos:stop].strip(" \t")
        if item:
            items.append(item)
        if stop >= end:
            return items
        if value[stop] != ",":
            raise ParseError(f"unbalanced quote or angle bracket in list {value[:80]!r}")
        pos = stop + 1


class Headers:
    """Ordered, case-insensitive multi-dict of header fields.

    ``get`` returns the first field value; ``get_all`` returns every value,
    with comma lists split for headers whose grammar allows lists. Parsed,
    typed values are cached here and dropped on any change.
    """

    __slots__ = ("_cache", "_keys", "_names", "_values")

    def __init__(self, items: Iterable[tuple[str, str]] = ()) -> None:
        self._keys: list[str] = []
        self._names: list[str] = []
        self._values: list[str] = []
        self._cache: dict[str, Any] = {}
        for name, value in items:
            self.add(name, value)

    @classmethod
    def from_checked(cls, keys: list[str], names: list[str], values: list[str]) -> Headers:
        """Adopt parallel lists the parser already checked, without copying or re-checking.

        ``keys`` are ``header_key`` forms, ``names`` the names to print.
        """
        headers = cls.__new__(cls)
        headers._keys, headers._names, headers._values = keys, names, values
        headers._cache = {}
        return headers

    # -- reading -----------------------------------------------------------

    def get(self, name: str, default: str | None = None) -> str | None:
        """The first value of ``name``, or ``default``.

        For a list header that is the first list element (``Via: a, b`` gives
        ``a``), as ``get_all(name)[0]`` would; a line that cannot be split is
        returned whole.
        """
        key = header_key(name)
        try:
            value = self._values[self._keys.index(key)]
        except ValueError:
            return default
        if key in LIST_HEADERS and "," in value:
            try:
                items = split_list(value)
            except ParseError:
                return value
            return items[0] if items else value
        return value

    def get_all(self, name: str) -> list[str]:
        """Every value of ``name`` in order; comma lists split where the grammar allows."""
        key = header_key(name)
        raw = [value for k, value in zip(self._keys, self._values, strict=True) if k == key]
        if key not in LIST_HEADERS:
            return raw
        return [item for value in raw for item in split_list(value)]

    def get_raw(self, name: str) -> list[str]:
        """Every field value of ``name`` exactly as stored (one per header line)."""
        key = header_key(name)
        return [value for k, value in zip(self._keys, self._values, strict=True) if k == key]

    def count(self, name: str) -> int:
        """How many header lines carry ``name``."""
        return self._keys.count(header_key(name))

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and header_key(name) in self._keys

    def __len__(self) -> int:
        return len(self._keys)

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def items(self) -> list[tuple[str, str]]:
        """``(name, value)`` per header line, in order, names as they will be printed."""
        return list(zip(self._names, self._values, strict=True))

    def keys(self) -> list[str]:
        """The lookup key (``header_key``) of every header line, in order."""
        return list(self._keys)

    def keyed_items(self) -> list[tuple[str, str]]:
        """``(lowercase canonical key, value)`` per header line: the comparable form."""
        return list(zip(self._keys, self._values, strict=True))

    def wire_lines(self, content_length: int) -> list[str]:
        """``Name: value`` per line, with one Content-Length that states ``content_length``.

        A stale or repeated Content-Length is replaced where the first one
        stood; a missing one is added at the end.
        """
        lines: list[str] = []
        length_written = False
        for key, name, value in zip(self._keys, self._names, self._values, strict=True):
            if key != "content-length":
                lines.append(f"{name}: {value}")
            elif not length_written:
                lines.append(f"{name}: {content_length}")
                length_written = True
        if not length_written:
            lines.append(f"Content-Length: {content_length}")
        return lines

    def copy(self) -> Headers:
        """An independent copy (the typed-value cache is not shared)."""
        return Headers.from_checked(list(self._keys), list(self._names), list(self._values))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Headers):
            return NotImplemented
        return self._keys == other._keys and self._values == other._values

    def __repr__(self) -> str:
        return f"Headers({self.items()!r})"

    def typed(self, key: str, build: Callable[[Headers], Any]) -> Any:
        """``build(self)`` computed once per header state and cached under ``key``."""
        try:
            return self._cache[key]
        except KeyError:
            value = self._cache[key] = build(self)
            return value

    # -- changing ----------------------------------------------------------

    @staticmethod
    def _checked(name: str, value: str) -> tuple[str, str, str]:
        # The stack adds canonical names with plain ASCII values many times per call: those
        # skip the regular expressions and the encoding attempt, and are checked all the same.
        key = _KEYS_OF_CANONICAL_NAMES.get(name)
        if key is None and not _TOKEN_NAME.fullmatch(name):
            raise ValueError(f"invalid header name {name!r}")
        if not isinstance(value, str) or (
            ("\r" in value or "\n" in value or "\x00" in value)
            and _FORBIDDEN_IN_VALUE.search(value)
        ):
            raise ValueError(f"header value for {name} must be one line of text: {value!r}")
        if not value.isascii():
            try:
                value.encode("utf-8", "surrogateescape")
            except UnicodeEncodeError as exc:
                raise ValueError(f"header value for {name} cannot be encoded: {exc}") from exc
        if key is not None:
            return key, name, value.strip(" \t")
        key, printed = display_name(name)
        return key, printed, value.strip(" \t")

    def add(self, name: str, value: str) -> None:
        """Append a header line after all others."""
        key, printed, value = self._checked(name, value)
        self._keys.append(key)
        self._names.append(printed)
        self._values.append(value)
        self._cache.clear()

    def prepend(self, name: str, value: str) -> None:
        """Insert a header line before the first line of the same name (or first of all)."""
        key, printed, value = self._checked(name, value)
        try:
            index = self._keys.index(key)
        except ValueError:
            index = 0
        self._keys.insert(index, key)
        self._names.insert(index, printed)
        self._values.insert(index, value)
        self._cache.clear()

    def set(self, name: str, value: str) -> None:
        """Replace every line of ``name`` with one line, kept where the first one was."""
        key, printed, value = self._checked(name, value)
        try:
            index = self._keys.index(key)
        except ValueError:
            self.add(name, value)
            return
        self._remove_key(key, keep=index)
        self._names[index] = printed
        self._values[index] = value
        self._cache.clear()

    def remove(self, name: str) -> None:
        """Remove every line of ``name`` (no error if there is none)."""
        self._remove_key(header_key(name))
        self._cache.clear()

    def set_first(self, name: str, value: str) -> None:
        """Replace the first list element of ``name`` (e.g. the top Via), keeping the rest.

        A combined line such as ``Via: a, b`` is split so that only ``a`` changes.
        """
        self._replace_first(header_key(name), value)

    def pop_first(self, name: str) -> str | None:
        """Remove and return the first list element of ``name`` (e.g. the top Via)."""
        return self._replace_first(header_key(name), None)

    def _replace_first(self, key: str, value: str | None) -> str | None:
        try:
            index = self._keys.index(key)
        except ValueError:
            if value is not None:
                self.add(key, value)
            return None
        if value is not None:
            value = self._checked(self._names[index], value)[2]
        items = split_list(self._values[index]) if key in LIST_HEADERS else [self._values[index]]
        first = items[0] if items else None
        rest = items[1:]
        if value is not None:
            rest.insert(0, value)
        if rest:
            self._values[index] = ", ".join(rest)
        else:
            del self._keys[index], self._names[index], self._values[index]
        self._cache.clear()
        return first

    def _remove_key(self, key: str, keep: int = -1) -> None:
        for index in range(len(self._keys) - 1, -1, -1):
            if self._keys[index] == key and index != keep:
                del self._keys[index], self._names[index], self._values[index]
