"""Scanner signatures: the known tools are recognised by User-Agent or From; phones are not."""

import re

import pytest

from sipcore.message import Request
from sipcore.security import KNOWN_SCANNERS, ScannerDetector, ScannerSignature


def request(**headers: str) -> Request:
    fields = [
        ("From", headers.pop("From", "<sip:alice@example.com>;tag=1")),
        ("To", "<sip:alice@example.com>"),
        ("Call-ID", "c1"),
        ("CSeq", "1 REGISTER"),
    ]
    fields += [(name.replace("_", "-"), value) for name, value in headers.items()]
    return Request("REGISTER", "sip:example.com", fields)


@pytest.mark.parametrize(
    ("user_agent", "tool"),
    [
        ("friendly-scanner", "sipvicious"),
        ("SIPVicious 0.3.8", "sipvicious"),
        ("sipcli/v1.8", "sipcli"),
        ("sip-scan", "sip-scan"),
        ("SIPScan 2.0", "sip-scan"),
        ("VaxSIPUserAgent/3.1", "vaxsip"),
        ("iWar", "iwar"),
        ("sundayddr", "sundayddr"),
        ("pplsip", "pplsip"),
        ("SIVuS", "sivus"),
        ("smap 0.6.0", "smap"),
    ],
)
def test_known_scanner_user_agents_are_named(user_agent, tool):
    assert ScannerDetector().identify(request(User_Agent=user_agent)) == tool


@pytest.mark.parametrize(
    "from_header",
    [
        '"sipvicious"<sip:100@1.1.1.1>;tag=abc',
        '"iWar" <sip:1@2.3.4.5>;tag=x',
        "sundayddr <sip:1@x>",
    ],
)
def test_scanners_are_recognised_by_their_from_header_too(from_header):
    assert ScannerDetector().identify(request(From=from_header)) is not None


@pytest.mark.parametrize(
    "user_agent",
    [
        "baresip v1.0.0 (x86_64/linux)",
        "Linphone/5.2.0 (belle-sip/5.2.0)",
        "sipsak 0.9.8",
        "Asterisk PBX 20.5.0",
        "Zoiper rv2.10.19.9",
        "Grandstream GXP2170 1.0.11.23",
        "PolycomVVX-VVX_411-UA/6.4.0",
        "Bismap softphone",
    ],
)
def test_phones_and_health_checks_are_not_scanners(user_agent):
    assert ScannerDetector().identify(request(User_Agent=user_agent)) is None


def test_a_request_without_the_inspected_headers_is_no_scanner():
    bare = Request("OPTIONS", "sip:example.com", [("Call-ID", "x"), ("CSeq", "1 OPTIONS")])
    assert ScannerDetector().identify(bare) is None


def test_the_signature_list_is_data_a_deployment_can_extend():
    extra = ScannerSignature("homegrown", "User-Agent", r"evil-dialer/\d")
    detector = ScannerDetector((*KNOWN_SCANNERS, extra))
    assert detector.identify(request(User_Agent="evil-dialer/7")) == "homegrown"
    assert ScannerDetector(()).identify(request(User_Agent="friendly-scanner")) is None


def test_a_bad_pattern_fails_where_it_is_written():
    with pytest.raises(re.error):
        ScannerSignature("broken", "User-Agent", "(unclosed")
