"""make_response (RFC 3261 §8.2.6), identifiers, and building messages in code."""

from __future__ import annotations

import pytest

from sipcore.message import (
    URI,
    Address,
    Headers,
    Request,
    Response,
    make_response,
    new_branch,
    new_call_id,
    new_tag,
    parse_message,
)

INVITE = (
    b"INVITE sip:bob@example.com SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP p1.example.com;branch=z9hG4bKp1, SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKua\r\n"
    b"Via: SIP/2.0/UDP 192.0.2.0;branch=z9hG4bK0\r\n"
    b"Max-Forwards: 69\r\nFrom: <sip:alice@example.com>;tag=a1\r\nTo: <sip:bob@example.com>\r\n"
    b"Call-ID: mr@192.0.2.1\r\nCSeq: 10 INVITE\r\nTimestamp: 54\r\n"
    b"Contact: <sip:alice@192.0.2.1>\r\nRecord-Route: <sip:p1.example.com;lr>\r\n"
    b"Content-Type: text/plain\r\nContent-Length: 2\r\n\r\nhi"
)


def test_message_make_response_copies_the_rfc_headers() -> None:
    request = parse_message(INVITE)
    response = make_response(request, 180, to_tag="b2")
    assert (response.status, response.reason) == (180, "Ringing")
    assert response.headers.get_raw("Via") == request.headers.get_raw("Via")
    assert [v.branch for v in response.vias] == ["z9hG4bKp1", "z9hG4bKua", "z9hG4bK0"]
    assert response.from_addr == request.from_addr
    assert response.to_addr.tag == "b2"
    assert (response.call_id, response.cseq) == (request.call_id, request.cseq)
    assert response.body == b"" and response.headers.get("Content-Length") == "0"
    assert "Contact" not in response.headers and "Timestamp" not in response.headers
    assert parse_message(response.to_bytes()) == response


def test_message_make_response_keeps_an_existing_to_tag() -> None:
    request = parse_message(
        INVITE.replace(b"To: <sip:bob@example.com>", b"To: <sip:bob@example.com>;tag=x")
    )
    assert make_response(request, 200, to_tag="other").to_addr.tag == "x"
    assert make_response(request, 200).to_addr.tag == "x"


def test_message_make_response_100_echoes_timestamp_without_tag() -> None:
    response = make_response(parse_message(INVITE), 100)
    assert response.headers.get("Timestamp") == "54"
    assert response.to_addr.tag is None


def test_message_make_response_custom_reason_and_unknown_code() -> None:
    request = parse_message(INVITE)
    assert make_response(request, 488, "Codec Mismatch").reason == "Codec Mismatch"
    assert make_response(request, 499).reason == "Client Error"


def test_message_identifiers_are_fresh_and_well_formed() -> None:
    branches = {new_branch() for _ in range(100)}
    assert len(branches) == 100 and all(b.startswith("z9hG4bK") and len(b) > 20 for b in branches)
    assert new_tag() != new_tag() and len(new_tag()) >= 8
    assert new_call_id("192.0.2.1").endswith("@192.0.2.1") and "@" not in new_call_id()


def test_message_build_request_in_code_and_serialise() -> None:
    uri = URI("sip", user="bob", host="example.com")
    request = Request("OPTIONS", uri, [
        ("Via", f"SIP/2.0/UDP 192.0.2.1;branch={new_branch()}"),
        ("Max-Forwards", "70"),
        ("From", str(Address(URI("sip", user="alice", host="h"), "Alice A.").with_tag(new_tag()))),
        ("To", str(Address(uri))),
        ("Call-ID", new_call_id()),
        ("CSeq", "1 OPTIONS"),
    ], body=b"ping")  # fmt: skip
    wire = request.to_bytes()
    assert wire.startswith(b"OPTIONS sip:bob@example.com SIP/2.0\r\n")
    assert b"Content-Length: 4\r\n\r\nping" in wire
    parsed = parse_message(wire)
    assert parsed == request
    assert parsed.from_addr.display_name == "Alice A."


def test_message_serialise_fixes_a_stale_content_length() -> None:
    request = parse_message(INVITE)
    request.body = b"longer body"
    wire = request.to_bytes()
    assert wire.count(b"Content-Length") == 1 and wire.endswith(
        b"Content-Length: 11\r\n\r\nlonger body"
    )


def test_message_constructors_refuse_bad_values() -> None:
    with pytest.raises(ValueError):
        Request("BAD METHOD", "sip:a@b")
    with pytest.raises(ValueError):
        Response(700, "Too big")
    with pytest.raises(ValueError):
        Response(200, "OK\r\nVia: x")
    with pytest.raises(ValueError):
        URI("sip", host="h", port=70000)
    assert (
        Response(200, "OK", Headers()).to_bytes() == b"SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n"
    )
