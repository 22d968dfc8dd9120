"""Hypothesis properties: round trips, nothing but ParseError, framing independent of splits."""

from __future__ import annotations

import contextlib
import ipaddress

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sipcore.message import (
    URI,
    Address,
    CSeq,
    ParseError,
    Request,
    Response,
    StreamFramer,
    Via,
    parse_message,
)

TOKEN_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.!%*_+`'~"
tokens = st.text(TOKEN_CHARS, min_size=1, max_size=12)
lower_tokens = st.text("abcdefghijklmnopqrstuvwxyz0123456789-._", min_size=1, max_size=10)
labels = st.text("abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=8)
hostnames = st.lists(labels, min_size=1, max_size=4).map(".".join)
ipv4 = st.ip_addresses(v=4).map(str)
ipv6 = st.ip_addresses(v=6).map(lambda a: ipaddress.IPv6Address(a).compressed)
hosts = st.one_of(hostnames, ipv4, ipv6)
ports = st.none() | st.integers(1, 65535)
# Header-safe text: anything printable (non-ASCII included) but CR, LF and NUL.
line_text = st.text(
    st.characters(blacklist_categories=("Cs", "Cc")) | st.sampled_from("\t\x01\x7f"), max_size=30
)
methods = (
    st.sampled_from(["INVITE", "ACK", "BYE", "OPTIONS", "REGISTER", "REFER", "NOTIFY"]) | tokens
)


@st.composite
def sip_uris(draw: st.DrawFn) -> URI:
    params = draw(st.dictionaries(lower_tokens, st.none() | line_text.filter(bool), max_size=3))
    headers = draw(st.dictionaries(tokens, line_text, max_size=2))
    return URI(
        draw(st.sampled_from(["sip", "sips"])),
        user=draw(st.none() | line_text.filter(bool)),
        password=None,
        host=draw(hosts),
        port=draw(ports),
        params=params,
        headers=headers,
    )


uris = st.one_of(
    sip_uris(),
    st.builds(lambda n: URI("tel", user=n), st.from_regex(r"\+[0-9]{4,15}", fullmatch=True)),
    st.builds(
        lambda o: URI("urn", opaque=o), st.from_regex(r"[a-z]+:[a-z0-9:.-]+", fullmatch=True)
    ),
)
gen_params = st.dictionaries(lower_tokens, st.none() | tokens, max_size=3)


@st.composite
def addresses(draw: st.DrawFn, tag: bool = True) -> Address:
    params = dict(draw(gen_params))
    if tag:
        params["tag"] = draw(tokens)
    return Address(draw(uris), draw(st.none() | line_text.filter(bool)), params)


@st.composite
def vias(draw: st.DrawFn) -> Via:
    params = dict(draw(gen_params))
    params["branch"] = "z9hG4bK" + draw(tokens)
    return Via(
        draw(st.sampled_from(["UDP", "TCP", "TLS", "SCTP"])), draw(hosts), draw(ports), params
    )


extra_headers = st.lists(
    st.tuples(
        st.sampled_from(["X-Test", "Subject", "User-Agent", "x-lower", "P-Custom"]),
        line_text.map(lambda t: t.strip(" \t")),
    ),
    max_size=4,
)


@st.composite
def messages(draw: st.DrawFn, min_vias: int = 1) -> Request | Response:
    via_list = draw(st.lists(vias(), min_size=min_vias, max_size=3))
    method = draw(methods)
    headers = [("Via", str(v)) for v in via_list]
    headers += [
        ("From", str(draw(addresses()))),
        ("To", str(draw(addresses(tag=draw(st.booleans()))))),
        (
            "Call-ID",
            draw(st.from_regex(r"[A-Za-z0-9.!%*_+`'~-]{1,20}(@[a-z0-9.]{1,10})?", fullmatch=True)),
        ),
        ("CSeq", str(CSeq(draw(st.integers(0, 2**32 - 1)), method))),
        ("Max-Forwards", str(draw(st.integers(0, 255)))),
    ]
    contacts = draw(st.lists(addresses(tag=False), max_size=2))
    if contacts:
        headers.append(("Contact", ", ".join(str(c) for c in contacts)))
    headers += draw(extra_headers)
    body = draw(st.binary(max_size=64))
    if draw(st.booleans()):
        return Request(method, draw(sip_uris()).without_headers(), headers, body)
    status = draw(st.integers(100, 699))
    return Response(status, draw(line_text.map(lambda t: t.strip(" \t"))), headers, body)


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(messages())
def test_message_parse_of_serialise_round_trips(message: Request | Response) -> None:
    parsed = parse_message(message.to_bytes())
    assert parsed == message
    assert parsed.vias == message.vias
    assert parsed.from_addr == message.from_addr and parsed.to_addr == message.to_addr
    assert parsed.contacts == message.contacts
    assert parsed.cseq == message.cseq
    if isinstance(message, Request):
        assert parsed.uri == message.uri


@given(uris)
def test_message_uri_print_and_parse_round_trips(uri: URI) -> None:
    assert URI.parse(str(uri)) == uri


SAMPLE = (
    b"INVITE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKx\r\n"
    b'From: "A" <sip:a@example.com>;tag=1\r\nTo: <sip:bob@example.com>\r\nCall-ID: c@h\r\n'
    b"CSeq: 1 INVITE\r\nContact: <sip:a@192.0.2.1>\r\nContent-Length: 4\r\n\r\nbody"
)


def _only_parse_errors(data: bytes) -> None:
    try:
        message = parse_message(data)
    except ParseError as exc:
        assert exc.__cause__ is None, exc.reason
        return
    for name in ("vias", "from_addr", "to_addr", "cseq", "contacts", "routes", "expires", "event"):
        with contextlib.suppress(ParseError):
            getattr(message, name)
    message.to_bytes()


@settings(max_examples=500)
@given(st.binary(max_size=512))
def test_message_arbitrary_bytes_raise_only_parse_error(data: bytes) -> None:
    _only_parse_errors(data)


@settings(max_examples=500)
@given(st.integers(0, len(SAMPLE)), st.integers(0, 8), st.binary(min_size=1, max_size=8))
def test_message_mutated_messages_raise_only_parse_error(at: int, cut: int, insert: bytes) -> None:
    _only_parse_errors(SAMPLE[:at] + insert + SAMPLE[at + cut :])


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(messages(), min_size=1, max_size=4), st.data())
def test_message_framer_is_independent_of_read_boundaries(batch: list, data: st.DataObject) -> None:
    stream = b"".join(b"\r\n\r\n" * (i % 2) + m.to_bytes() for i, m in enumerate(batch))
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=10)))
    pieces = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]
    whole = StreamFramer().feed(stream)
    byte_framer = StreamFramer()
    by_byte = [m for i in range(len(stream)) for m in byte_framer.feed(stream[i : i + 1])]
    split_framer = StreamFramer()
    split = [m for piece in pieces for m in split_framer.feed(piece)]
    assert whole == by_byte == split
    assert [parse_message(m) for m in whole] == batch


@settings(max_examples=50)
@given(messages(min_vias=2))
def test_message_accessor_values_survive_changes(message: Request | Response) -> None:
    top = message.pop_top_via()
    message.headers.prepend("Via", str(top))
    assert parse_message(message.to_bytes()).top_via == top


TYPED = {
    "Via": "vias", "From": "from_addr", "To": "to_addr", "Call-ID": "call_id", "CSeq": "cseq",
    "Max-Forwards": "max_forwards", "Contact": "contacts", "Route": "routes",
    "Record-Route": "record_routes", "Expires": "expires", "Min-Expires": "min_expires",
    "Content-Type": "content_type", "Refer-To": "refer_to", "Referred-By": "referred_by",
    "Replaces": "replaces", "Event": "event", "Subscription-State": "subscription_state",
    "Refer-Sub": "refer_sub", "Supported": "supported", "Require": "require", "Allow": "allow",
}  # fmt: skip
value_text = st.text(
    st.sampled_from(' \t<>"\\;,=:@?%&[]/*.-_+!~0123456789sipatgSIPtel'), max_size=40
)


@settings(max_examples=400)
@given(st.sampled_from(sorted(TYPED)), value_text | line_text)
def test_message_typed_accessors_raise_only_parse_error(name: str, value: str) -> None:
    response = Response(200, "OK", [(name, value)])
    with contextlib.suppress(ParseError):
        result = getattr(response, TYPED[name])
        for item in result if isinstance(result, list) else [result]:
            str(item)
