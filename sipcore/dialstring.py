"""Parse the dial strings that dialplans pass to ``sys.Dial``.

Grammar (DESIGN.md, "Dial strings")::

    dialstring := group ("|" group)*          sequential: the next group only after all legs failed
    group      := leg ("&" leg)*              parallel: every leg rings at once
    leg        := target ("[" option ("," option)* "]")?
    target     := user "@" name | name | "sip:" ... | "sips:" ...
    option     := key "=" value               keys: tr cd dt fu fd fh

Variables (``${dst}``, ``${exten}``, ``${dst:N}``, ``${fromname}``, ``${fromuriuser}``) are
substituted *after* the structure is split, so a caller-controlled value (a display name with
``&`` in it, say) can never add legs or options. Served domains and provider names are unknown
here: a ``user@name`` leg is classified ``named`` and the worker resolves the name later.

Every problem raises ``DialStringError`` with a message fit for the customer's dialplan log.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

MAX_LEGS = 20
MAX_DIAL_STRING_CHARS = 4096
MAX_DELAY_SECONDS = 120
MAX_ANSWERED_LIMIT_SECONDS = 86400
TRANSFER_MODES = frozenset({"n", "p", "c"})
KNOWN_OPTIONS = ("cd", "dt", "fd", "fh", "fu", "tr")

PROVIDER_NAME_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._-]*"
"""What a provider name (or served domain) must look like to be dialled as ``user@name``."""

_NAME = re.compile(PROVIDER_NAME_PATTERN)
_USER = re.compile(r"[A-Za-z0-9\-_.!~*'()+%#/]+")
_VARIABLE = re.compile(r"\$\{([^}]*)\}")
_VARIABLE_NAME = re.compile(r"(dst|exten|fromname|fromuriuser)(?::(\d+))?")
_URI_SCHEME = re.compile(r"sips?:", re.IGNORECASE)
_URI_HOST = re.compile(r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(?::\d{1,5})?")
_DISPLAY_NAME = re.compile(r"[^\x00-\x1f\x7f\"\\]+")


class DialStringError(ValueError):
    """A dial string that cannot be dialled; ``position`` is a 0-based index when known."""

    def __init__(self, message: str, position: int | None = None) -> None:
        self.message = message
        self.position = position
        where = "" if position is None else f" (at column {position + 1})"
        super().__init__(f"{message}{where}")


class TargetKind(StrEnum):
    LOCAL = "local"  # user@local: one of the customer's own accounts
    URI = "uri"  # a full sip:/sips: URI
    NAMED = "named"  # user@name: a provider or a served domain, resolved by the worker
    PROVIDER_ONLY = "provider-only"  # provider name alone: dial the called number there


@dataclass(frozen=True, slots=True, kw_only=True)
class DialContext:
    """Values for the variables: the called user and the caller's From header."""

    dst: str = ""
    fromname: str = ""
    fromuriuser: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class LegOptions:
    transfer: str | None = None  # tr: n, p or c (TRANSFER.md); None means "not set on this leg"
    answered_limit: int | None = None  # cd: seconds an answered call may last
    delay: int = 0  # dt: seconds to wait before this leg starts ringing
    from_user: str | None = None  # fu
    from_name: str | None = None  # fd
    from_host: str | None = None  # fh


@dataclass(frozen=True, slots=True, kw_only=True)
class DialLeg:
    """One destination. ``host`` is the provider or domain name ("local" for LOCAL legs)."""

    target_kind: TargetKind
    user: str
    host: str
    uri: str | None = None  # only for URI legs: the full URI after substitution
    options: LegOptions = LegOptions()


@dataclass(frozen=True, slots=True, kw_only=True)
class DialPlanString:
    """A parsed dial string: ``groups`` ring one after another, the legs of a group together."""

    source: str
    groups: tuple[tuple[DialLeg, ...], ...]

    @property
    def legs(self) -> tuple[DialLeg, ...]:
        return tuple(leg for group in self.groups for leg in group)

    def __str__(self) -> str:
        return self.source


@dataclass(frozen=True, slots=True)
class _Span:
    start: int
    end: int


def parse_dial_string(text: str, context: DialContext) -> DialPlanString:
    """Parse ``text`` and substitute its variables from ``context``."""
    if not isinstance(text, str):
        raise DialStringError(f"a dial string must be a string, not {type(text).__name__}")
    if len(text) > MAX_DIAL_STRING_CHARS:
        raise DialStringError(f"dial string longer than {MAX_DIAL_STRING_CHARS} characters")
    if not text.strip():
        raise DialStringError("empty dial string")
    groups: list[tuple[DialLeg, ...]] = []
    leg_count = 0
    for group_spans in _split(text):
        legs = []
        for span in group_spans:
            leg_count += 1
            if leg_count > MAX_LEGS:
                raise DialStringError(f"too many legs (at most {MAX_LEGS})", span.start)
            legs.append(_parse_leg(text, span, context))
        groups.append(tuple(legs))
    return DialPlanString(source=text, groups=tuple(groups))


def _split(text: str) -> list[list[_Span]]:
    """Split at top-level ``|`` and ``&``; brackets and ``${...}`` are kept whole."""
    groups: list[list[_Span]] = [[]]
    depth = 0
    open_at: list[int] = []
    start = 0
    index = 0
    while index < len(text):
        char = text[index]
        if text.startswith("${", index):
            close = text.find("}", index)
            if close < 0:
                raise DialStringError("unterminated variable '${'", index)
            index = close + 1
            continue
        if char == "[":
            depth += 1
            open_at.append(index)
        elif char == "]":
            if depth == 0:
                raise DialStringError("']' without a matching '['", index)
            depth -= 1
            open_at.pop()
        elif char in "|&" and depth == 0:
            groups[-1].append(_leg_span(text, start, index))
            if char == "|":
                groups.append([])
            start = index + 1
        index += 1
    if depth:
        raise DialStringError("'[' is never closed", open_at[-1])
    groups[-1].append(_leg_span(text, start, len(text)))
    return groups


def _leg_span(text: str, start: int, end: int) -> _Span:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if start == end:
        raise DialStringError("empty leg", start)
    return _Span(start, end)


def _parse_leg(text: str, span: _Span, context: DialContext) -> DialLeg:
    target_end, options = _split_options(text, span, context)
    start = span.start
    raw = text[start:target_end].rstrip()
    if any(char.isspace() for char in raw):
        raise DialStringError(f"whitespace inside the leg {raw!r}", start)
    if _URI_SCHEME.match(raw):
        return _uri_leg(raw, start, context, options)
    if "[" in raw or "]" in raw:
        raise DialStringError(f"unexpected bracket in the leg {raw!r}", start)
    at = _last_top_level_at(raw)
    if at is None:
        provider = _substitute(raw, start, context)
        _check_name(provider, "provider name", start)
        if not context.dst:
            raise DialStringError(
                f"the leg {raw!r} dials the called number, but there is none", start
            )
        _check_user(context.dst, start)
        return DialLeg(
            target_kind=TargetKind.PROVIDER_ONLY, user=context.dst, host=provider, options=options
        )
    user = _substitute(raw[:at], start, context)
    host = _substitute(raw[at + 1 :], start + at + 1, context)
    _check_user(user, start)
    _check_name(host, "provider or domain name", start + at + 1)
    if host.lower() == "local":
        return DialLeg(target_kind=TargetKind.LOCAL, user=user, host="local", options=options)
    return DialLeg(target_kind=TargetKind.NAMED, user=user, host=host, options=options)


def _split_options(text: str, span: _Span, context: DialContext) -> tuple[int, LegOptions]:
    """Find a trailing ``[...]`` option block; an IPv6 host reference is not one."""
    if text[span.end - 1] != "]":
        return span.end, LegOptions()
    index = _matching_open_bracket(text, span)
    if index is None:
        return span.end, LegOptions()
    before = text[span.start : index]
    if before.endswith("@") or _URI_SCHEME.fullmatch(before):
        return span.end, LegOptions()
    if index == span.start:
        raise DialStringError("options without a destination", index)
    return index, _parse_options(text, index + 1, span.end - 1, context)


def _matching_open_bracket(text: str, span: _Span) -> int | None:
    depth = 0
    for index in range(span.end - 1, span.start - 1, -1):
        if text[index] == "]":
            depth += 1
        elif text[index] == "[":
            depth -= 1
            if depth == 0:
                return index
    return None


def _parse_options(text: str, start: int, end: int, context: DialContext) -> LegOptions:
    values: dict[str, str] = {}
    if not text[start:end].strip():
        raise DialStringError("empty option list '[]'", start - 1)
    position = start
    for item in text[start:end].split(","):
        key, equals, value = item.partition("=")
        key = key.strip()
        if not equals:
            raise DialStringError(f"option {item.strip()!r} needs a value (key=value)", position)
        if key not in KNOWN_OPTIONS:
            known = ", ".join(KNOWN_OPTIONS)
            raise DialStringError(f"unknown dial string option {key!r} (known: {known})", position)
        if key in values:
            raise DialStringError(f"option {key!r} given twice", position)
        values[key] = _substitute(value.strip(), position, context)
        position += len(item) + 1
    return _build_options(values, start)


def _build_options(values: dict[str, str], position: int) -> LegOptions:
    transfer = values.get("tr")
    if transfer is not None and transfer not in TRANSFER_MODES:
        raise DialStringError(f"unknown tr value {transfer!r} (use n, p or c)", position)
    from_user = values.get("fu")
    if from_user is not None:
        _check_user(from_user, position)
    from_host = values.get("fh")
    if from_host is not None and not _NAME.fullmatch(from_host):
        raise DialStringError(f"fh {from_host!r} is not a host name", position)
    from_name = values.get("fd")
    if from_name is not None and not _DISPLAY_NAME.fullmatch(from_name):
        raise DialStringError(f"fd {from_name!r} is not a usable display name", position)
    return LegOptions(
        transfer=transfer,
        answered_limit=_seconds(values, "cd", 1, MAX_ANSWERED_LIMIT_SECONDS, position),
        delay=_seconds(values, "dt", 0, MAX_DELAY_SECONDS, position) or 0,
        from_user=from_user,
        from_name=from_name,
        from_host=from_host,
    )


def _seconds(values: dict[str, str], key: str, low: int, high: int, position: int) -> int | None:
    value = values.get(key)
    if value is None:
        return None
    if not value.isdigit() or not low <= int(value) <= high:
        raise DialStringError(
            f"{key} must be a whole number of seconds from {low} to {high}, not {value!r}",
            position,
        )
    return int(value)


def _uri_leg(raw: str, position: int, context: DialContext, options: LegOptions) -> DialLeg:
    uri = _substitute(raw, position, context)
    if any(char.isspace() or char in '<>"' for char in uri):
        raise DialStringError(f"the URI {uri!r} contains a character it may not", position)
    rest = uri[uri.index(":") + 1 :]
    address = rest.split("?", 1)[0]
    user, at, hostpart = address.rpartition("@")
    host_match = _URI_HOST.match(hostpart)
    if host_match is None or (at and not user):
        raise DialStringError(f"the URI {uri!r} has no usable user@host", position)
    host = host_match.group(1)
    tail = hostpart[host_match.end() :]
    if tail and not tail.startswith(";"):
        raise DialStringError(f"the URI {uri!r} has junk after its host", position)
    return DialLeg(target_kind=TargetKind.URI, user=user, host=host, uri=uri, options=options)


def _last_top_level_at(raw: str) -> int | None:
    """Index of the last ``@`` outside ``${...}``, or None."""
    index = _VARIABLE.sub(lambda match: "_" * len(match.group(0)), raw).rfind("@")
    return None if index < 0 else index


def _substitute(template: str, position: int, context: DialContext) -> str:
    def value(match: re.Match[str]) -> str:
        name = _VARIABLE_NAME.fullmatch(match.group(1))
        if name is None:
            raise DialStringError(
                f"unknown variable {match.group(0)!r} "
                "(known: ${dst}, ${exten}, ${dst:N}, ${fromname}, ${fromuriuser})",
                position + match.start(),
            )
        variable, drop = name.groups()
        if drop is not None and variable not in ("dst", "exten"):
            raise DialStringError(
                f"only ${{dst:N}} and ${{exten:N}} take a count, not {match.group(0)!r}",
                position + match.start(),
            )
        text = context.dst if variable in ("dst", "exten") else getattr(context, variable)
        return text[int(drop) :] if drop is not None else text

    stray = _VARIABLE.sub(lambda match: "_" * len(match.group(0)), template).find("$")
    if stray >= 0:
        raise DialStringError("'$' must start a variable like ${dst}", position + stray)
    return _VARIABLE.sub(value, template)


def _check_user(user: str, position: int) -> None:
    if not user:
        raise DialStringError("empty user part", position)
    if not _USER.fullmatch(user):
        raise DialStringError(f"{user!r} is not a valid user part", position)


def _check_name(name: str, what: str, position: int) -> None:
    if not name:
        raise DialStringError(f"empty {what}", position)
    if not _NAME.fullmatch(name):
        raise DialStringError(f"{name!r} is not a valid {what}", position)
