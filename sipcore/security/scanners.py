"""Recognising SIP scanners by what they write in their requests.

The signatures are data: each names a tool, the header it betrays itself in and a regular
expression (matched case-insensitively anywhere in the header value). ``ScannerDetector``
compiles all the patterns for one header into a single alternation, so a request costs one
regex search per inspected header, however long the list grows.

SIPVicious 0.3.8 (checked with its svmap, svwar and svcrack against a UDP listener) sends
``User-Agent: friendly-scanner`` on every request and ``From: "sipvicious"<sip:100@1.1.1.1>``
on svmap's OPTIONS. sipsak is deliberately absent: operators use it for health checks.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from sipcore.message import Request


@dataclass(frozen=True, slots=True)
class ScannerSignature:
    tool: str
    header: str
    pattern: str

    def __post_init__(self) -> None:
        re.compile(self.pattern)  # a bad pattern fails where it is written


def _ua(tool: str, pattern: str) -> ScannerSignature:
    return ScannerSignature(tool, "User-Agent", pattern)


def _from(tool: str, pattern: str) -> ScannerSignature:
    return ScannerSignature(tool, "From", pattern)


KNOWN_SCANNERS: tuple[ScannerSignature, ...] = (
    _ua("sipvicious", r"friendly-scanner"),
    _ua("sipvicious", r"sipvicious"),
    _from("sipvicious", r'"sipvicious"'),
    _ua("sipcli", r"sipcli"),
    _ua("sip-scan", r"sip-?scan"),
    _ua("vaxsip", r"VaxSIPUserAgent"),
    _ua("iwar", r"\biWar\b"),
    _from("iwar", r'"iWar"'),
    _ua("sundayddr", r"sundayddr"),
    _from("sundayddr", r"sundayddr"),
    _ua("pplsip", r"pplsip"),
    _ua("sivus", r"\bSIVuS\b"),
    _ua("smap", r"^smap\b"),
    _ua("siparmyknife", r"siparmyknife"),
    _ua("sipptk", r"\bsipptk\b"),
    _ua("voipsniff", r"voip-?sniff"),
)


class ScannerDetector:
    """Says which known tool, if any, sent a request."""

    __slots__ = ("_by_header",)

    def __init__(self, signatures: Iterable[ScannerSignature] = KNOWN_SCANNERS) -> None:
        grouped: dict[str, list[ScannerSignature]] = {}
        for signature in signatures:
            grouped.setdefault(signature.header, []).append(signature)
        self._by_header: tuple[tuple[str, re.Pattern[str], tuple[str, ...]], ...] = tuple(
            (
                header,
                re.compile(
                    "|".join(f"(?P<s{i}>{s.pattern})" for i, s in enumerate(group)),
                    re.IGNORECASE,
                ),
                tuple(s.tool for s in group),
            )
            for header, group in grouped.items()
        )

    def identify(self, request: Request) -> str | None:
        """The tool's name when a signature matches ``request``, else None."""
        headers = request.headers
        for header, pattern, tools in self._by_header:
            value = headers.get(header)
            if not value:
                continue
            match = pattern.search(value)
            if match is not None and match.lastgroup is not None:
                return tools[int(match.lastgroup[1:])]
        return None
