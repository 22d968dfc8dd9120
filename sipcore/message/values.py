"""Small typed header values: CSeq, Replaces, Event and Subscription-State."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from sipcore.message.errors import ParseError
from sipcore.message.grammar import CSEQ, EVENT, REPLACES, TOKEN_RE
from sipcore.message.params import EMPTY_PARAMS, format_params, parse_params, unquote_value

MAX_CSEQ = 2**32 - 1
_CSEQ_RE = re.compile(CSEQ)
_REPLACES_RE = re.compile(REPLACES)
_EVENT_RE = re.compile(EVENT)


def parse_int(text: str, what: str, maximum: int = MAX_CSEQ) -> int:
    """A decimal header value or parameter, refused when absent, signed or over ``maximum``."""
    text = text.strip(" \t")
    if not text.isascii() or not text.isdigit():
        raise ParseError(f"{what} is not a number: {text[:40]!r}")
    significant = text.lstrip("0") or "0"  # leading zeros are legal ("0068")
    if len(significant) > 12 or int(significant) > maximum:
        raise ParseError(f"{what} is too large: {text[:40]!r}")
    return int(significant)


@dataclass(frozen=True, slots=True)
class CSeq:
    """The CSeq header: sequence number and method (RFC 3261 §20.16)."""

    seq: int
    method: str

    @classmethod
    def parse(cls, text: str) -> CSeq:
        match = _CSEQ_RE.fullmatch(text)
        if match is None:
            raise ParseError(f"malformed CSeq {text[:80]!r}")
        return cls(parse_int(match["seq"], "CSeq number"), match["method"])

    def __str__(self) -> str:
        return f"{self.seq} {self.method}"


@dataclass(frozen=True, slots=True)
class Replaces:
    """The dialog a Replaces header (RFC 3891) names, as a header or a Refer-To URI header."""

    call_id: str
    to_tag: str
    from_tag: str
    early_only: bool = False

    @classmethod
    def parse(cls, text: str) -> Replaces:
        match = _REPLACES_RE.fullmatch(text)
        if match is None:
            raise ParseError(f"malformed Replaces {text[:80]!r}")
        params = parse_params(match["params"])
        to_tag, from_tag = params.get("to-tag"), params.get("from-tag")
        if to_tag is None or from_tag is None:
            raise ParseError("Replaces needs both to-tag and from-tag")
        tags = unquote_value(to_tag) or "", unquote_value(from_tag) or ""
        # RFC 3891: tags are tokens; a quoted one that is empty or holds ";" or "=" could not
        # be written back
        if not all(TOKEN_RE.fullmatch(tag) for tag in tags):
            raise ParseError("Replaces tags must be tokens")
        return cls(match["call_id"].strip(" \t"), *tags, "early-only" in params)

    def __str__(self) -> str:
        early = ";early-only" if self.early_only else ""
        return f"{self.call_id};to-tag={self.to_tag};from-tag={self.from_tag}{early}"


@dataclass(frozen=True, slots=True)
class Event:
    """The Event header (RFC 6665): package name and parameters such as ``id``."""

    package: str
    params: Mapping[str, str | None] = field(default_factory=lambda: EMPTY_PARAMS)

    @classmethod
    def parse(cls, text: str) -> Event:
        match = _EVENT_RE.fullmatch(text)
        if match is None:
            raise ParseError(f"malformed Event {text[:80]!r}")
        return cls(match["package"].lower(), parse_params(match["params"]))

    @property
    def id(self) -> str | None:
        return unquote_value(self.params.get("id"))

    def __str__(self) -> str:
        return self.package + format_params(self.params)


@dataclass(frozen=True, slots=True)
class SubscriptionState:
    """The Subscription-State header (RFC 6665 §8.2.3)."""

    state: str
    params: Mapping[str, str | None] = field(default_factory=lambda: EMPTY_PARAMS)

    @classmethod
    def parse(cls, text: str) -> SubscriptionState:
        match = _EVENT_RE.fullmatch(text)
        if match is None:
            raise ParseError(f"malformed Subscription-State {text[:80]!r}")
        return cls(match["package"].lower(), parse_params(match["params"]))

    @property
    def expires(self) -> int | None:
        value = self.params.get("expires")
        return None if value is None else parse_int(value, "Subscription-State expires")

    @property
    def retry_after(self) -> int | None:
        value = self.params.get("retry-after")
        return None if value is None else parse_int(value, "Subscription-State retry-after")

    @property
    def reason(self) -> str | None:
        return unquote_value(self.params.get("reason"))

    def __str__(self) -> str:
        return self.state + format_params(self.params)


def parse_token_set(values: list[str], what: str) -> set[str]:
    """The option tags or method names of a list header, as sent (they compare case-sensitively)."""
    for value in values:
        if not TOKEN_RE.fullmatch(value):
            raise ParseError(f"malformed {what} entry {value[:60]!r}")
    return set(values)
