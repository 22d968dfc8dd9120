"""received/rport stamping (RFC 3261 §18.2.1, RFC 3581) and response routing (§18.2.2)."""

import pytest

from sipcore.message import ParseError, Request, Via
from sipcore.transport import Peer, client_via, response_destination, stamp_received


def options(via: str) -> Request:
    return Request(
        "OPTIONS",
        "sip:bob@example.com",
        [
            ("Via", via),
            ("Via", "SIP/2.0/UDP 192.0.2.99:5060;branch=z9hG4bKlower"),
            ("From", "<sip:alice@example.com>;tag=1"),
            ("To", "<sip:bob@example.com>"),
            ("Call-ID", "c1"),
            ("CSeq", "1 OPTIONS"),
        ],
    )


UDP_SOURCE = Peer("udp", "192.0.2.1", 40000)


def test_same_address_and_no_rport_leaves_the_via_alone():
    request = options("SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKa")
    stamp_received(request, UDP_SOURCE)
    assert request.headers.get_all("Via")[0] == "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKa"


def test_different_source_address_adds_received():
    request = options("SIP/2.0/UDP 10.0.0.7:5060;branch=z9hG4bKa")
    stamp_received(request, UDP_SOURCE)
    assert request.top_via.received == "192.0.2.1"
    assert request.top_via.rport is None
    assert not request.top_via.rport_requested


def test_domain_name_sent_by_adds_received():
    request = options("SIP/2.0/UDP pc33.example.com;branch=z9hG4bKa")
    stamp_received(request, UDP_SOURCE)
    assert request.top_via.received == "192.0.2.1"


def test_empty_rport_is_filled_and_received_added_even_for_the_same_address():
    request = options("SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKa;rport")
    stamp_received(request, UDP_SOURCE)
    assert request.top_via.rport == 40000
    assert request.top_via.received == "192.0.2.1"


def test_rport_with_a_value_is_left_alone():
    request = options("SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKa;rport=1234")
    stamp_received(request, UDP_SOURCE)
    assert request.top_via.rport == 1234
    assert request.top_via.received is None


def test_only_the_top_via_changes():
    request = options("SIP/2.0/UDP 10.0.0.7;branch=z9hG4bKa;rport")
    stamp_received(request, UDP_SOURCE)
    assert request.headers.get_all("Via")[1] == "SIP/2.0/UDP 192.0.2.99:5060;branch=z9hG4bKlower"


def test_ipv6_source_is_written_unbracketed_and_compared_by_value():
    request = options("SIP/2.0/UDP [::1]:5060;branch=z9hG4bKa")
    stamp_received(request, Peer("udp", "0:0:0:0:0:0:0:1", 5060))
    assert request.top_via.received is None
    request = options("SIP/2.0/UDP [2001:db8::9]:5060;branch=z9hG4bKa;rport")
    stamp_received(request, Peer("udp", "::1", 41000))
    assert "received=::1" in request.headers.get_all("Via")[0]
    assert request.top_via.rport == 41000


def test_missing_via_is_a_parse_error():
    request = Request("OPTIONS", "sip:bob@example.com", [("Call-ID", "c1")])
    with pytest.raises(ParseError):
        stamp_received(request, UDP_SOURCE)


@pytest.mark.parametrize(
    ("via", "expected"),
    [
        # unreliable with received and rport: back to the exact source (RFC 3581 §4)
        ("SIP/2.0/UDP 10.0.0.7:5070;branch=z9hG4bKa;rport=40000;received=192.0.2.1",
         Peer("udp", "192.0.2.1", 40000)),
        # received without rport: the sent-by port
        ("SIP/2.0/UDP 10.0.0.7:5070;branch=z9hG4bKa;received=192.0.2.1",
         Peer("udp", "192.0.2.1", 5070)),
        # no port anywhere: 5060
        ("SIP/2.0/UDP host.example.com;branch=z9hG4bKa;received=192.0.2.1",
         Peer("udp", "192.0.2.1", 5060)),
        # maddr wins, with the sent-by port
        ("SIP/2.0/UDP 10.0.0.7:5070;branch=z9hG4bKa;maddr=239.1.1.1;received=192.0.2.1;rport=9",
         Peer("udp", "239.1.1.1", 5070)),
        # reliable: received address, sent-by port (rport is about NATed UDP)
        ("SIP/2.0/TCP 10.0.0.7:5070;branch=z9hG4bKa;rport=40000;received=192.0.2.1",
         Peer("tcp", "192.0.2.1", 5070)),
        # nothing added: the sent-by itself
        ("SIP/2.0/TCP 192.0.2.1:5080;branch=z9hG4bKa", Peer("tcp", "192.0.2.1", 5080)),
        ("SIP/2.0/UDP [::1]:5080;branch=z9hG4bKa;rport=5999;received=::1",
         Peer("udp", "::1", 5999)),
    ],
)  # fmt: skip
def test_response_destination(via, expected):
    assert response_destination(Via.parse(via)) == expected


def test_response_destination_refuses_transports_we_lack():
    with pytest.raises(ValueError, match="unsupported transport"):
        response_destination(Via.parse("SIP/2.0/SCTP 192.0.2.1;branch=z9hG4bKa"))


def test_client_via_carries_sent_by_branch_and_empty_rport():
    via = Via.parse(client_via(Peer("tcp", "::1", 15001), "z9hG4bKxyz"))
    assert (via.transport, via.host, via.port, via.branch) == ("TCP", "::1", 15001, "z9hG4bKxyz")
    assert via.rport_requested and via.rport is None


def test_peer_validates_and_formats():
    assert Peer("udp", "[::1]", 5060).host == "::1"
    assert Peer("udp", "::1", 5060).hostport == "[::1]:5060"
    assert Peer("tcp", "127.0.0.1", 5060).reliable
    with pytest.raises(ValueError):
        Peer("tls", "127.0.0.1", 5061)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        Peer("udp", "127.0.0.1", 70000)
