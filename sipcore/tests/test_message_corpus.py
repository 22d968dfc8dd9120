"""Our own corpus (``corpus/valid``, ``corpus/invalid``) in the categories of RFC 4475.

Each folder has ``expectations.json``: for a valid message its kind, method or
status and Call-ID; for an invalid one the ``status_hint`` it must produce
(``null`` = drop) and a word the reason must contain.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sipcore.fuzz_parser import check_invariants
from sipcore.message import ParseError, Request, Response, make_response, parse_message

CORPUS = Path(__file__).resolve().parent / "corpus"
VALID = json.loads((CORPUS / "valid" / "expectations.json").read_text())
INVALID = json.loads((CORPUS / "invalid" / "expectations.json").read_text())


def test_message_corpus_is_complete() -> None:
    assert len(VALID) + len(INVALID) >= 30
    on_disk = {p.name for p in CORPUS.glob("*/*.sip")}
    assert on_disk == set(VALID) | set(INVALID)


@pytest.mark.parametrize("name", sorted(VALID))
def test_message_valid_corpus_message_parses(name: str) -> None:
    data = (CORPUS / "valid" / name).read_bytes()
    expect = VALID[name]
    message = parse_message(data)
    if "method" in expect:
        assert isinstance(message, Request)
        assert message.method == expect["method"]
    else:
        assert isinstance(message, Response)
        assert message.status == expect["status"]
    assert message.call_id == expect["call_id"]
    check_invariants(data)


@pytest.mark.parametrize("name", sorted(INVALID))
def test_message_invalid_corpus_message_is_refused(name: str) -> None:
    data = (CORPUS / "invalid" / name).read_bytes()
    expect = INVALID[name]
    with pytest.raises(ParseError) as caught:
        parse_message(data)
    error = caught.value
    assert expect["reason"] in error.reason
    assert error.status_hint == expect["status_hint"]
    if error.status_hint is None:
        assert error.request is None
    else:
        # The reply copies what it can, verbatim, even when that is malformed.
        response = make_response(error.request, error.status_hint, error.reason[:80])
        assert response.to_bytes().startswith(b"SIP/2.0 %d " % error.status_hint)
        assert response.headers.get_raw("Via") == error.request.headers.get_raw("Via")
    check_invariants(data)


def _valid(name: str) -> Request | Response:
    return parse_message((CORPUS / "valid" / name).read_bytes())


def test_message_a_malformed_refer_to_is_left_for_the_transfer_layer_to_refuse() -> None:
    # The REFER must reach the application, which answers 400 and audits the attempt.
    message = _valid("refer-to-unbalanced.sip")
    with pytest.raises(ParseError) as caught:
        _ = message.refer_to
    assert "malformed address" in caught.value.reason


def test_message_linphone_doubled_reason_in_subscription_state_is_tolerated() -> None:
    data = (CORPUS / "valid" / "notify-subscription.sip").read_bytes()
    data = data.replace(
        b"Subscription-State: ",
        b"Subscription-State: terminated;reason=reason=noresource\r\nX-Was: ",
    )
    message = parse_message(data)
    assert message.headers.get("Subscription-State").startswith("terminated;")


def test_message_compact_forms_expand() -> None:
    message = _valid("compact-forms.sip")
    names = [name for name, _ in message.headers.items()]
    assert names[:6] == ["Via", "From", "To", "Call-ID", "CSeq", "Contact"]
    assert {"Supported", "Subject", "Event", "Refer-To", "Referred-By", "Allow-Events"} <= set(
        names
    )
    assert {"Session-Expires", "Content-Type", "Content-Length"} <= set(names)
    assert message.supported == {"replaces", "100rel"}
    assert message.event.package == "refer" and message.event.id == "7"
    assert message.refer_to.uri.user == "carol"


def test_message_names_are_case_insensitive_and_unknown_spelling_kept() -> None:
    message = _valid("mixed-case-names.sip")
    assert message.headers.get("max-forwards") == "10"
    assert message.from_addr.tag == "up"
    assert ("x-CUSTOM-header", "Kept As Sent") in message.headers.items()
    assert b"x-CUSTOM-header: Kept As Sent\r\n" in message.to_bytes()


def test_message_folding_unfolds_to_one_line() -> None:
    message = _valid("folded-everywhere.sip")
    assert message.top_via.host == "192.0.2.1"
    assert message.top_via.branch == "z9hG4bKfold"
    assert message.to_addr.display_name == "Bob  Builder"
    assert message.cseq.method == "OPTIONS"
    assert message.headers.get("Subject") == "first line second line\tthird line"
    assert b"\r\n " not in message.to_bytes()


def test_message_list_split_respects_quotes_and_brackets() -> None:
    message = _valid("quoted-escapes.sip")
    first, second = message.contacts
    assert first.display_name == 'a "quoted" \\ name, with comma'
    assert first.q == 0.5
    assert second.display_name == "second; semi"
    assert message.headers.get_all("Reply-To") == [
        '"O\'Hara \\\\ Sons" <sip:o@example.com>;note="x, y; z"'
    ]


def test_message_authorization_is_never_split() -> None:
    message = _valid("auth-commas.sip")
    (value,) = message.headers.get_all("Authorization")
    assert value.startswith("Digest username=") and value.endswith('cnonce="x,y"')
    challenges = _valid("challenge-401.sip").headers.get_all("WWW-Authenticate")
    assert len(challenges) == 2


def test_message_non_utf8_survives_a_round_trip() -> None:
    data = (CORPUS / "valid" / "non-utf8-values.sip").read_bytes()
    message = parse_message(data)
    assert message.body == b"caf\xe9"
    wire = message.to_bytes()
    assert b"X-Latin: caf\xe9 cr\xe8me\r\n" in wire
    assert b"Subject: \xff\xfe\r\n" in wire


def test_message_body_framing_on_datagrams() -> None:
    assert _valid("no-content-length-udp.sip").body == b"rest of the datagram"
    assert _valid("body-longer-than-cl.sip").body == b"hello"
    binary = _valid("binary-body.sip")
    assert binary.body.startswith(b"\x00\x01\x02\r\n\r\n")


def test_message_huge_and_repeated_headers() -> None:
    assert len(_valid("huge-header.sip").headers.get("X-Huge")) == 30000
    repeated = _valid("repeated-headers.sip")
    assert len(repeated.vias) == 70
    assert len(repeated.record_routes) == 20
    assert len(repeated.headers.get_all("X-Repeat")) == 30


def test_message_bare_lf_and_leading_crlf_are_tolerated() -> None:
    assert _valid("bare-lf.sip").call_id == "lf@192.0.2.1"
    assert _valid("leading-crlf.sip").call_id == "lead@192.0.2.1"
