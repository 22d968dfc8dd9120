"""Hostile input: long pathological header values must be refused in linear time.

Each case is about 60 kB of a shape that makes careless regular expressions
backtrack exponentially or quadratically; the parser must finish each one in
a few milliseconds of CPU (the bound below is generous for a loaded machine).
"""

from __future__ import annotations

import contextlib
import time

import pytest

from sipcore.message import ParseError, parse_message

N = 30000
HEAD = {
    "Via": b"SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKx",
    "From": b"<sip:a@example.com>;tag=1",
    "To": b"<sip:bob@example.com>",
    "Call-ID": b"c@h",
    "CSeq": b"1 INVITE",
}
CASES = {
    "display-tokens": ("From", b"a " * N),
    "display-tokens-then-open-angle": ("To", b"a " * N + b"<sip:a@b"),
    "quoted-backslashes": ("From", b'"a\\' * (N // 2)),
    "header-params": ("Contact", b"<sip:a@b>" + b";a" * N + b";"),
    "empty-list-items": ("Contact", b"<sip:a@b>," * (N // 5) + b","),
    "via-params": ("Via", b"SIP/2.0/UDP h" + b";b" * N + b";"),
    "via-list": ("Via", b"SIP/2.0/UDP h," * (N // 8) + b"x"),
    "user-with-semicolons": ("Contact", b"<sip:" + b"a;" * N + b">"),
    "broken-escapes": ("Contact", b"<sip:" + b"%4" * N + b"@h>"),
    "host-dots": ("Contact", b"<sip:a@" + b"a." * N + b"-:>"),
    "ipv6-colons": ("Contact", b"<sip:a@[" + b"1:" * N + b"x>"),
    "ipv6-param": ("Contact", b"<sip:a@b>;p=" + b"1:" * N),
    "call-id-ats": ("Call-ID", b"a@" * N),
    "cseq-repeats": ("CSeq", b"1 " * N),
    "whitespace-value": ("X-Pad", b" \t" * N + b"x"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_message_pathological_value_is_handled_in_linear_time(name: str) -> None:
    header, value = CASES[name]
    fields = dict(HEAD, **{header: value})
    data = (
        b"INVITE sip:bob@example.com SIP/2.0\r\n"
        + b"".join(k.encode() + b": " + v + b"\r\n" for k, v in fields.items())
        + b"Content-Length: 0\r\n\r\n"
    )
    start = time.process_time()
    with contextlib.suppress(ParseError):
        message = parse_message(data, max_size=len(data))
        for accessor in ("vias", "from_addr", "to_addr", "contacts", "call_id", "cseq"):
            with contextlib.suppress(ParseError):
                getattr(message, accessor)
    assert time.process_time() - start < 0.5


def test_message_folded_and_repeated_lines_stay_linear() -> None:
    data = (
        b"OPTIONS sip:b@h SIP/2.0\r\n"
        + b"".join(k.encode() + b": " + v + b"\r\n" for k, v in HEAD.items()).replace(
            b"INVITE", b"OPTIONS"
        )
        + b"X: a" + b"\r\n b" * (N // 4) + b"\r\n"
        + b"Y: a\r\n" * (N // 3)
        + b"\r\n"
    )  # fmt: skip
    start = time.process_time()
    message = parse_message(data, max_size=len(data))
    assert len(message.headers.get_all("Y")) == N // 3
    assert time.process_time() - start < 0.5


@pytest.mark.parametrize(
    "start",
    [
        b"INVITE " + b" " * N + b"x",
        b"INVITE " + b"a " * (N // 2) + b"SIP/2.0",
        b"SIP/2.0 200 " + b" " * N + b"x",
        b"I" * N + b" sip:a@b SIP/2.0",
    ],
    ids=["spaces", "words", "status-spaces", "long-method"],
)
def test_message_pathological_start_line_is_handled_in_linear_time(start: bytes) -> None:
    data = start + b"\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nCSeq: 1 INVITE\r\n\r\n"
    begin = time.process_time()
    with pytest.raises(ParseError):
        parse_message(data, max_size=len(data))
    assert time.process_time() - begin < 0.5


TYPICAL = {
    "Via": 'SIP/2.0/UDP [2001:db8::1]:5060;branch=z9hG4bK1;rport, SIP / 2.0 / TCP h ; x = "q"',
    "From": '"Al \\"x\\"" <sip:al:pw@h.example.com:5060;lr?S=a%20b>;tag=1;x="y"',
    "Contact": '<sip:a@b>;expires=1;q=0.5, sip:c@d;expires=2, "N" <urn:x:y>',
    "CSeq": "  123   INVITE  ",
    "Route": "<sip:p1.example.com;lr>, <sip:p2.example.com;lr>",
    "Event": "presence ; id = 1",
    "Replaces": "abc@h;to-tag=1;from-tag=2;early-only",
}
BLANKS = 20000


@pytest.mark.parametrize("name", sorted(TYPICAL))
def test_message_blank_runs_anywhere_in_a_value_stay_linear(name: str) -> None:
    """A long run of blanks (or tabs) inserted at any point of a value costs linear time."""
    value = TYPICAL[name]
    accessors = ("vias", "from_addr", "contacts", "cseq", "routes", "event", "replaces")
    for position in range(0, len(value) + 1, 3):
        for blanks in (" " * BLANKS, "\t " * (BLANKS // 2)):
            fields = dict(HEAD)
            fields[name] = (value[:position] + blanks + value[position:]).encode()
            data = (
                b"INVITE sip:b@h SIP/2.0\r\n"
                + b"".join(k.encode() + b": " + v + b"\r\n" for k, v in fields.items())
                + b"\r\n"
            )
            begin = time.process_time()
            with contextlib.suppress(ParseError):
                message = parse_message(data)
                for accessor in accessors:
                    with contextlib.suppress(ParseError):
                        getattr(message, accessor)
            assert time.process_time() - begin < 0.1, (name, position)
