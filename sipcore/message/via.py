"""The Via header (RFC 3261 §20.42, RFC 3581 rport)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType

from sipcore.message.errors import ParseError
from sipcore.message.grammar import VIA
from sipcore.message.ids import MAGIC_COOKIE
from sipcore.message.memo import TRANSIENT_ENTRIES, memoized
from sipcore.message.params import EMPTY_PARAMS, format_params, parse_params
from sipcore.message.uri import format_host
from sipcore.message.values import parse_int

_VIA_RE = re.compile(VIA)


class Via:
    """One via-parm: protocol, transport, sent-by and parameters.

    ``rport`` is the port a server filled in (``None`` when absent or empty);
    ``rport_requested`` says whether the parameter is present at all, which is
    how a client asks for symmetric response routing.
    """

    __slots__ = ("_text", "host", "params", "port", "protocol", "transport")

    def __init__(
        self,
        transport: str,
        host: str,
        port: int | None = None,
        params: Mapping[str, str | None] | None = None,
        protocol: str = "SIP/2.0",
    ) -> None:
        self.transport = transport.upper()
        self.host = host[1:-1] if host.startswith("[") else host
        self.port = port
        self.protocol = protocol
        self.params: Mapping[str, str | None] = (
            MappingProxyType({k.lower(): v for k, v in params.items()}) if params else EMPTY_PARAMS
        )
        self._text: str | None = None

    @classmethod
    def parse(cls, text: str) -> Via:
        """Parse one via-parm; the same text gives the same (immutable) object while it is
        remembered (``memo``)."""
        if cls is Via:
            return _parse_via(text)
        return cls._parse_text(text)

    @classmethod
    def _parse_text(cls, text: str) -> Via:
        match = _VIA_RE.fullmatch(text)
        if match is None:
            raise ParseError(f"malformed Via {text[:100]!r}")
        port = match["port"]
        via = cls(
            match["transport"],
            match["host"],
            int(port) if port else None,
            protocol=f"{match['protocol'].upper()}/{match['version']}",
        )
        via.params = parse_params(match["params"])
        via._text = text.strip(" \t")
        return via

    @property
    def branch(self) -> str | None:
        return self.params.get("branch")

    @property
    def has_magic_cookie(self) -> bool:
        """True when the branch follows RFC 3261 (so it alone identifies the transaction)."""
        branch = self.branch
        return branch is not None and branch.startswith(MAGIC_COOKIE) and len(branch) > 7

    @property
    def received(self) -> str | None:
        value = self.params.get("received")
        return value[1:-1] if value and value.startswith("[") else value

    @property
    def rport(self) -> int | None:
        value = self.params.get("rport")
        return None if value is None else parse_int(value, "Via rport", 65535)

    @property
    def rport_requested(self) -> bool:
        return "rport" in self.params

    @property
    def maddr(self) -> str | None:
        return self.params.get("maddr")

    @property
    def ttl(self) -> int | None:
        value = self.params.get("ttl")
        return None if value is None else parse_int(value, "Via ttl", 255)

    @property
    def sent_by(self) -> tuple[str, int | None]:
        return self.host, self.port

    def with_param(self, name: str, value: str | None = None) -> Via:
        """A copy with parameter ``name`` set (``None`` for a flag such as ``rport``)."""
        params = dict(self.params)
        params[name.lower()] = value
        return Via(self.transport, self.host, self.port, params, self.protocol)

    def __str__(self) -> str:
        if self._text is None:
            port = f":{self.port}" if self.port is not None else ""
            self._text = (
                f"{self.protocol}/{self.transport} {format_host(self.host)}{port}"
                f"{format_params(self.params)}"
            )
        return self._text

    def _comparable(self) -> tuple[object, ...]:
        return (self.protocol, self.transport, self.host.lower(), self.port,
                frozenset(self.params.items()))  # fmt: skip

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Via):
            return NotImplemented
        return self._comparable() == other._comparable()

    def __hash__(self) -> int:
        return hash(self._comparable())

    def __repr__(self) -> str:
        return f"Via({str(self)!r})"


_parse_via = memoized(Via._parse_text, entries=TRANSIENT_ENTRIES)
