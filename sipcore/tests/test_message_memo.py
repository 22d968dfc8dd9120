"""Parsed URIs, addresses and Vias are shared between messages carrying the same text."""

from __future__ import annotations

import pytest

from sipcore.message import URI, Address, ParseError, Via, parse_message
from sipcore.message.memo import MEMO_MAX_TEXT

INVITE = (
    b"INVITE sip:bob@example.test SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKmemo1\r\n"
    b"Max-Forwards: 70\r\n"
    b"From: Alice <sip:alice@example.test>;tag=a1\r\n"
    b"To: <sip:bob@example.test>\r\n"
    b"Call-ID: memo-1\r\n"
    b"CSeq: 1 INVITE\r\n"
    b"Content-Length: 0\r\n\r\n"
)


def test_the_same_text_parses_to_the_same_immutable_value():
    first, second = parse_message(INVITE), parse_message(INVITE)

    assert first.from_addr is second.from_addr
    assert first.top_via is second.top_via
    assert URI.parse("sip:carol@example.test") is URI.parse("sip:carol@example.test")
    # Changing a value builds a new one; the shared one stays as it was.
    tagged = first.to_addr.with_tag("b2")
    assert tagged.tag == "b2"
    assert second.to_addr.tag is None


def test_route_parsing_keeps_its_stricter_grammar_apart():
    assert Address.parse("sip:a@example.test").uri.user == "a"
    with pytest.raises(ParseError):
        Address.parse("sip:a@example.test", name_addr_only=True)


def test_a_malformed_value_fails_every_time():
    for _ in range(2):
        with pytest.raises(ParseError):
            Via.parse("SIP/2.0/UDP")


def test_long_texts_are_parsed_afresh_each_time():
    long_user = "u" * MEMO_MAX_TEXT
    text = f"sip:{long_user}@example.test"

    assert URI.parse(text) == URI.parse(text)
    assert URI.parse(text) is not URI.parse(text)
