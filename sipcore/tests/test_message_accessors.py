"""One test per typed accessor: what it returns, and ParseError when the value is bad."""

from __future__ import annotations

import pytest

from sipcore.message import (
    URI,
    Address,
    ParseError,
    Replaces,
    Request,
    Response,
    Via,
    parse_message,
)


def request(*extra: str, method: str = "INVITE", uri: str = "sip:bob@example.com") -> Request:
    lines = [
        f"{method} {uri} SIP/2.0",
        "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKacc;rport",
        "Max-Forwards: 70",
        'From: "Alice" <sip:alice@example.com>;tag=a1',
        "To: <sip:bob@example.com>",
        "Call-ID: acc@192.0.2.1",
        f"CSeq: 1 {method}",
        *extra,
        "Content-Length: 0",
    ]
    message = parse_message(("\r\n".join(lines) + "\r\n\r\n").encode())
    assert isinstance(message, Request)
    return message


def test_message_via_rport_requested_then_filled() -> None:
    message = request()
    via = message.top_via
    assert (via.transport, via.host, via.port, via.branch) == (
        "UDP",
        "192.0.2.1",
        5060,
        "z9hG4bKacc",
    )
    assert via.rport_requested and via.rport is None and via.received is None
    filled = via.with_param("received", "198.51.100.7").with_param("rport", "40123")
    message.replace_top_via(filled)
    assert message.top_via.received == "198.51.100.7"
    assert message.top_via.rport == 40123
    assert message.headers.get("Via") == (
        "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKacc;rport=40123;received=198.51.100.7"
    )


def test_message_via_replace_and_pop_split_a_combined_line() -> None:
    message = request("Via: SIP/2.0/TCP b.example.com;branch=z9hG4bK2, SIP/2.0/TCP c.example.com")
    assert [v.host for v in message.vias] == ["192.0.2.1", "b.example.com", "c.example.com"]
    assert message.pop_top_via().host == "192.0.2.1"
    assert message.pop_top_via().host == "b.example.com"
    assert [v.host for v in message.vias] == ["c.example.com"]
    assert message.headers.get_raw("Via") == ["SIP/2.0/TCP c.example.com"]


def test_message_via_ipv6_sent_by_and_received() -> None:
    via = Via.parse(
        "SIP/2.0/TCP [2001:db8::1]:5070;branch=z9hG4bKv6;received=2001:db8::9;rport=5071"
    )
    assert (via.host, via.port, via.received, via.rport) == (
        "2001:db8::1",
        5070,
        "2001:db8::9",
        5071,
    )
    built = Via("tcp", "2001:db8::1", 5070, {"branch": "z9hG4bKv6"})
    assert str(built) == "SIP/2.0/TCP [2001:db8::1]:5070;branch=z9hG4bKv6"
    assert Via.parse(str(built)) == built


def test_message_via_malformed_values_raise_parse_error() -> None:
    for text in ("SIP/2.0/UDP", "SIP/2.0 192.0.2.1", "SIP/2.0/UDP 192.0.2.1;;", "SIP/2.0/UDP a b"):
        with pytest.raises(ParseError):
            Via.parse(text)
    with pytest.raises(ParseError):
        Via.parse("SIP/2.0/UDP a.example.com;rport=abc").rport  # noqa: B018


def test_message_from_to_tags_and_display_names() -> None:
    message = request()
    assert message.from_addr.display_name == "Alice"
    assert message.from_addr.tag == "a1"
    assert message.to_addr.tag is None
    assert message.to_addr.with_tag("b2").tag == "b2"
    assert str(message.to_addr.with_tag("b2")) == "<sip:bob@example.com>;tag=b2"


def test_message_call_id_cseq_max_forwards() -> None:
    message = request()
    assert message.call_id == "acc@192.0.2.1"
    assert (message.cseq.seq, message.cseq.method) == (1, "INVITE")
    assert message.max_forwards == 70
    padded = request("Expires: 00000000000000000300").headers
    padded.set("CSeq", "0000000000000004294967295 INVITE")
    assert Response(200, "OK", padded).cseq.seq == 2**32 - 1
    assert Response(200, "OK", padded).expires == 300


def test_message_contact_star_and_expires_param() -> None:
    star = request("Contact: *", "Expires: 0", method="REGISTER")
    assert star.contact_star and star.contacts == [] and star.expires == 0
    normal = request(
        "Contact: <sip:a@192.0.2.1>;expires=3600;q=0.7, <sip:a@192.0.2.2>", method="REGISTER"
    )
    assert not normal.contact_star
    first, second = normal.contacts
    assert (first.expires, first.q, second.expires, second.q) == (3600, 0.7, None, None)


def test_message_contact_expires_too_large_raises() -> None:
    message = request("Contact: <sip:a@192.0.2.1>;expires=99999999999", method="REGISTER")
    with pytest.raises(ParseError):
        message.contacts[0].expires  # noqa: B018


def test_message_routes_and_record_routes_keep_order() -> None:
    message = request(
        "Route: <sip:p1.example.com;lr>, <sip:p2.example.com;lr>",
        "Route: <sip:p3.example.com;lr>",
        "Record-Route: <sip:rr.example.com;lr>",
    )
    assert [r.uri.host for r in message.routes] == [
        "p1.example.com",
        "p2.example.com",
        "p3.example.com",
    ]
    assert "lr" in message.routes[0].uri.params
    assert [r.uri.host for r in message.record_routes] == ["rr.example.com"]


def test_message_route_needs_angle_brackets() -> None:
    with pytest.raises(ParseError):
        request("Route: sip:p1.example.com;lr").routes  # noqa: B018


def test_message_refer_to_with_escaped_replaces() -> None:
    message = request(
        "Refer-To: <sip:b@x?Replaces=abc%40h%3Bto-tag%3D1%3Bfrom-tag%3D2>",
        "Referred-By: <sip:alice@example.com>",
        "Refer-Sub: false",
        method="REFER",
    )
    refer_to = message.refer_to
    assert refer_to.uri.headers["Replaces"] == "abc@h;to-tag=1;from-tag=2"
    assert refer_to.uri.replaces == Replaces("abc@h", "1", "2", early_only=False)
    assert message.referred_by.uri.user == "alice"
    assert message.refer_sub is False
    assert str(refer_to.uri) == "sip:b@x?Replaces=abc%40h%3Bto-tag%3D1%3Bfrom-tag%3D2"


def test_message_replaces_header() -> None:
    message = request("Replaces: 425928@bobster.example.org;to-tag=7743;from-tag=6472;early-only")
    assert message.replaces == Replaces("425928@bobster.example.org", "7743", "6472", True)
    assert request().replaces is None
    with pytest.raises(ParseError):
        request("Replaces: abc;to-tag=1").replaces  # noqa: B018


def test_message_replaces_round_trips_through_a_uri() -> None:
    replaces = Replaces("a%b@c.example.com", "t-1", "f.2", early_only=True)
    uri = URI("sip", user="carol", host="example.com", headers={"Replaces": str(replaces)})
    assert "%3Bto-tag%3Dt-1%3Bfrom-tag%3Df.2%3Bearly-only" in str(uri)
    assert URI.parse(str(uri)).replaces == replaces


def test_message_event_subscription_state_refer_sub() -> None:
    message = request(
        "Event: Presence;id=42",
        "Subscription-State: terminated;reason=timeout;retry-after=30",
        "Refer-Sub: true",
        method="NOTIFY",
    )
    assert message.event.package == "presence" and message.event.id == "42"
    state = message.subscription_state
    assert (state.state, state.reason, state.retry_after, state.expires) == (
        "terminated",
        "timeout",
        30,
        None,
    )
    assert message.refer_sub is True
    assert request().event is None and request().refer_sub is None
    with pytest.raises(ParseError):
        request("Refer-Sub: maybe").refer_sub  # noqa: B018


def test_message_supported_require_allow_sets() -> None:
    message = request("Supported: replaces, timer", "Supported: 100rel", "Require: timer",
                      "Allow: INVITE, ACK, BYE")  # fmt: skip
    assert message.supported == {"replaces", "timer", "100rel"}
    assert message.require == {"timer"}
    assert message.allow == {"INVITE", "ACK", "BYE"}
    assert request().supported == set()
    with pytest.raises(ParseError):
        request("Supported: a b").supported  # noqa: B018


def test_message_expires_and_min_expires_and_content_type() -> None:
    message = request("Expires: 300", "Content-Type: Application/SDP ; charset=utf-8")
    assert message.expires == 300
    assert message.content_type == "application/sdp"
    response = parse_message(
        b"SIP/2.0 423 Interval Too Brief\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n"
        b"From: <sip:a@h>;tag=1\r\nTo: <sip:a@h>;tag=2\r\nCall-ID: c\r\nCSeq: 1 REGISTER\r\n"
        b"Min-Expires: 3600\r\nContent-Length: 0\r\n\r\n"
    )
    assert isinstance(response, Response)
    assert response.min_expires == 3600 and response.expires is None


def test_message_tel_uri() -> None:
    message = request(uri="tel:+1-201-555-0123;phone-context=example.com")
    uri = message.uri
    assert (uri.scheme, uri.user, uri.host) == ("tel", "+1-201-555-0123", None)
    assert uri.params["phone-context"] == "example.com"
    assert str(URI("tel", user="+12015550123")) == "tel:+12015550123"


def test_message_ipv6_request_uri_and_contact() -> None:
    message = request("Contact: <sip:alice@[2001:db8::1]:5060;transport=tcp>",
                      uri="sips:bob@[2001:db8::10]:5061")  # fmt: skip
    assert (message.uri.scheme, message.uri.host, message.uri.port) == (
        "sips",
        "2001:db8::10",
        5061,
    )
    contact = message.contacts[0].uri
    assert (contact.host, contact.port, contact.transport) == ("2001:db8::1", 5060, "tcp")
    built = URI("sip", user="a", host="2001:db8::1", port=5060)
    assert str(built) == "sip:a@[2001:db8::1]:5060"


def test_message_unknown_scheme_kept_opaque() -> None:
    address = Address.parse("<urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6>;+sip.instance")
    assert address.uri.scheme == "urn"
    assert address.uri.opaque == "uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6"
    assert address.uri.host is None
    assert str(address) == "<urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6>;+sip.instance"


def test_message_accessors_are_cached_and_refreshed_on_change() -> None:
    message = request()
    assert message.from_addr is message.from_addr
    message.headers.set("From", "<sip:carol@example.com>;tag=c3")
    assert message.from_addr.tag == "c3"


def test_message_missing_header_accessor_raises() -> None:
    response = Response(200, "OK")
    with pytest.raises(ParseError):
        response.call_id  # noqa: B018
    with pytest.raises(ParseError):
        response.top_via  # noqa: B018
    assert response.vias == [] and response.max_forwards is None


@pytest.mark.parametrize(
    ("left", "right", "equal"),
    [
        ("sip:%61lice@atlanta.com;transport=TCP", "sip:alice@AtLanTa.CoM;Transport=tcp", True),
        ("sip:carol@chicago.com", "sip:carol@chicago.com;newparam=5", True),
        ("sip:carol@chicago.com;security=on", "sip:carol@chicago.com;newparam=5", True),
        (
            "sip:alice@atlanta.com?subject=project%20x",
            "sip:alice@atlanta.com?SUBJECT=PROJECT%20X",
            True,
        ),
        ("sip:ALICE@AtLanTa.CoM", "sip:alice@AtLanTa.CoM", False),
        ("sip:bob@biloxi.com", "sip:bob@biloxi.com:5060", False),
        ("sip:bob@biloxi.com", "sip:bob@biloxi.com;transport=udp", False),
        ("sip:carol@chicago.com", "sip:carol@chicago.com?Subject=next%20meeting", False),
        ("sip:a@h;maddr=x", "sips:a@h;maddr=x", False),
        ("tel:+1-201-555-0123", "tel:+12015550123", True),
        ("urn:service:sos", "urn:service:sos", True),
        ("urn:service:sos", "urn:service:police", False),
    ],
)
def test_message_uri_equivalence_follows_rfc3261(left: str, right: str, equal: bool) -> None:
    assert (URI.parse(left) == URI.parse(right)) is equal
    if equal:
        assert hash(URI.parse(left)) == hash(URI.parse(right))
