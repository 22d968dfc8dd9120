"""The monitor's filter language, in the spirit of SIPSorcery's console.

    event transfer and user alice
    event call
    ipaddr 127.0.0.1 or ipaddr 192.0.2.0/24
    not event registration

Grammar (``and`` binds tighter than ``or``; words are case-insensitive)::

    expression := conjunction ("or" conjunction)*
    conjunction := clause ("and" clause)*
    clause     := ["not"] field value
    field      := "event" | "user" | "ipaddr" | "callid"
    value      := a word, or a "double-quoted string"

``event X`` matches events whose type is X or starts with ``X.`` (``event call`` matches
``call.ringing``); ``user X`` matches a SIP user or account name in the event's From, To,
account, transferor, transferee, target or Refer-To (``alice`` matches
``<sip:alice@example.com>`` and ``alice@example.com``); ``ipaddr X`` matches an address or a
network found anywhere in the event's text (contacts, sockets, sources); ``callid X`` matches
the Call-ID. An empty expression matches everything. A bad expression raises
``FilterError`` with a message meant for the person who typed it.
"""

from __future__ import annotations

import ipaddress
import re
import shlex
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from sipplatform.monitor.events import EVENT_CATEGORIES

MAX_EXPRESSION_CHARS = 500
FIELDS = ("event", "user", "ipaddr", "callid")
_USER_KEYS = (
    "from",
    "to",
    "account",
    "user",
    "username",
    "transferor",
    "transferee",
    "target",
    "refer_to",
)
_SIP_USER = re.compile(r"sips?:([^@;>\s:]+)@", re.IGNORECASE)
_IPV4 = re.compile(r"(?<![\d.])\d{1,3}(?:\.\d{1,3}){3}(?![\d.])")
_IPV6 = re.compile(r"(?<![\w:.])[0-9a-fA-F]{0,4}(?::[0-9a-fA-F]{0,4}){2,7}(?![\w:])")


class FilterError(ValueError):
    """An expression that does not parse; the message says where and why."""


@dataclass(frozen=True, slots=True)
class Clause:
    field: str
    value: str
    negated: bool = False

    def matches(self, event: Mapping[str, Any]) -> bool:
        return _MATCHERS[self.field](self.value, event) != self.negated

    def __str__(self) -> str:
        value = self.value if re.fullmatch(r"[^\s\"']+", self.value) else f'"{self.value}"'
        return f"{'not ' if self.negated else ''}{self.field} {value}"


@dataclass(frozen=True, slots=True)
class MonitorFilter:
    """A parsed expression: a disjunction of conjunctions of clauses."""

    alternatives: tuple[tuple[Clause, ...], ...] = ()

    def matches(self, event: Mapping[str, Any]) -> bool:
        if not self.alternatives:
            return True
        return any(all(clause.matches(event) for clause in group) for group in self.alternatives)

    def __str__(self) -> str:
        return " or ".join(" and ".join(map(str, group)) for group in self.alternatives)


MATCH_ALL = MonitorFilter()


def parse_filter(expression: object) -> MonitorFilter:
    """Parse ``expression``; raises ``FilterError`` naming the problem."""
    if not isinstance(expression, str):
        raise FilterError("The filter must be text.")
    if len(expression) > MAX_EXPRESSION_CHARS:
        raise FilterError(f"The filter is longer than {MAX_EXPRESSION_CHARS} characters.")
    try:
        words = shlex.split(expression, posix=True)
    except ValueError:
        raise FilterError("A quoted value is not closed.") from None
    if not words:
        return MATCH_ALL
    return MonitorFilter(tuple(_conjunctions(iter(words))))


def _conjunctions(words: Iterator[str]) -> Iterator[tuple[Clause, ...]]:
    group: list[Clause] = [_clause(words, after=None)]
    for joiner in words:
        joiner = joiner.lower()
        if joiner not in ("and", "or"):
            raise FilterError(f"Expected 'and' or 'or' after '{group[-1]}', found '{joiner}'.")
        clause = _clause(words, after=joiner)
        if joiner == "or":
            yield tuple(group)
            group = []
        group.append(clause)
    yield tuple(group)


def _clause(words: Iterator[str], after: str | None) -> Clause:
    place = f"after '{after}'" if after else "at the start"
    field = next(words, None)
    if field is None:
        raise FilterError(f"Expected a condition {place}, like 'event call'.")
    negated = field.lower() == "not"
    if negated:
        field = next(words, None)
        if field is None:
            raise FilterError("Expected a condition after 'not', like 'not event call'.")
    field = field.lower()
    if field not in FIELDS:
        raise FilterError(f"Unknown field '{field}': use one of {', '.join(FIELDS)}.")
    value = next(words, None)
    if value is None or value.lower() in ("and", "or", "not"):
        raise FilterError(f"'{field}' needs a value, like '{field} {_EXAMPLES[field]}'.")
    return Clause(field, _VALIDATORS[field](value), negated)


def _event_value(value: str) -> str:
    value = value.lower()
    category = value.partition(".")[0]
    if category not in EVENT_CATEGORIES:
        raise FilterError(
            f"Unknown event '{value}': events start with one of {', '.join(EVENT_CATEGORIES)}."
        )
    return value


def _ipaddr_value(value: str) -> str:
    try:
        return str(ipaddress.ip_network(value.strip("[]"), strict=False))
    except ValueError:
        raise FilterError(f"'{value}' is not an IP address or network.") from None


_VALIDATORS = {
    "event": _event_value,
    "user": lambda value: value.lower(),
    "ipaddr": _ipaddr_value,
    "callid": lambda value: value,
}
_EXAMPLES = {"event": "call", "user": "alice", "ipaddr": "127.0.0.1", "callid": "abc123"}


def _event_matches(value: str, event: Mapping[str, Any]) -> bool:
    kind = str(event.get("type", "")).lower()
    return kind == value or kind.startswith(value + ".")


def _user_matches(value: str, event: Mapping[str, Any]) -> bool:
    for key in _USER_KEYS:
        text = event.get(key)
        if not isinstance(text, str):
            continue
        users = {user.lower() for user in _SIP_USER.findall(text)}
        bare = text.strip().lower()
        users.add(bare.partition("@")[0] if "@" in bare and ":" not in bare else bare)
        if value in users:
            return True
    return False


def _ipaddr_matches(value: str, event: Mapping[str, Any]) -> bool:
    network = ipaddress.ip_network(value)
    for text in _strings(event):
        for candidate in (*_IPV4.findall(text), *_IPV6.findall(text)):
            try:
                if ipaddress.ip_address(candidate) in network:
                    return True
            except ValueError:
                continue
    return False


def _callid_matches(value: str, event: Mapping[str, Any]) -> bool:
    return event.get("call_id") == value


def _strings(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)


_MATCHERS = {
    "event": _event_matches,
    "user": _user_matches,
    "ipaddr": _ipaddr_matches,
    "callid": _callid_matches,
}
