"""The SecurityGate with a stepped clock: bans, rate limit and floods, scanners, locked
accounts, exempt networks; every decision made from local state."""

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from sipcore.message import Request, Response
from sipcore.security import (
    Ban,
    BanReason,
    DropReason,
    GateConfig,
    SecurityGate,
    Subject,
    Verdict,
)

ATTACKER = "203.0.113.9"
PHONE = "198.51.100.7"


def register(*, user_agent: str = "Linphone/5.2", authorization: str | None = None) -> Request:
    headers = [
        ("Via", "SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bK1"),
        ("From", "<sip:alice@example.com>;tag=1"),
        ("To", "<sip:alice@example.com>"),
        ("Call-ID", "c1"),
        ("CSeq", "1 REGISTER"),
        ("User-Agent", user_agent),
    ]
    if authorization is not None:
        headers.append(("Authorization", authorization))
    return Request("REGISTER", "sip:example.com", headers)


def credentials(user: str, realm: str = "example.com") -> str:
    return (
        f'Digest username="{user}", realm="{realm}", nonce="n", uri="sip:example.com", '
        'response="00000000000000000000000000000000", qop=auth, nc=00000001, cnonce="c"'
    )


def ban(subject: Subject, until: float, since: float = 0.0) -> Ban:
    return Ban(subject=subject, since=since, until=until, offence=1, reason=BanReason.MANUAL)


def test_an_ordinary_request_is_allowed():
    gate = SecurityGate()
    assert gate.check(register(), PHONE, 0.0).verdict is Verdict.ALLOW
    assert gate.stats.allowed == 1


def test_a_banned_source_is_dropped_silently_until_its_ban_ends():
    gate = SecurityGate()
    gate.add_ban(ban(Subject.source(ATTACKER), until=100.0))
    for now in (0.0, 50.0, 99.9):
        decision = gate.check(register(), ATTACKER, now)
        assert (decision.verdict, decision.reason, decision.event) == (
            Verdict.DROP,
            DropReason.BANNED,
            None,
        )
    assert gate.check(register(), PHONE, 50.0).verdict is Verdict.ALLOW
    assert gate.check(register(), ATTACKER, 100.0).verdict is Verdict.ALLOW
    assert gate.banned_count == 0  # released, and forgotten
    assert gate.stats.dropped[DropReason.BANNED] == 3


def test_loopback_is_exempt_by_default():
    gate = SecurityGate(GateConfig(request_rate=1, request_burst=1))
    gate.add_ban(ban(Subject.source("127.0.0.1"), until=100.0))
    assert [gate.check(register(), "127.0.0.1", 0.0).verdict for _ in range(3)] == [
        Verdict.ALLOW
    ] * 3
    assert gate.check(register(), "::1", 0.0).verdict is Verdict.ALLOW
    assert not gate.is_exempt(ATTACKER)


def test_responses_are_never_rate_limited():
    gate = SecurityGate(GateConfig(request_rate=1, request_burst=1))
    response = Response(200, "OK", [("Call-ID", "c"), ("CSeq", "1 INVITE")])
    assert {gate.check(response, ATTACKER, 0.0).verdict for _ in range(50)} == {Verdict.ALLOW}


def test_responses_from_a_banned_source_are_dropped_too():
    gate = SecurityGate()
    gate.add_ban(ban(Subject.source(ATTACKER), until=10.0))
    response = Response(200, "OK", [("Call-ID", "c"), ("CSeq", "1 OPTIONS")])
    assert gate.check(response, ATTACKER, 1.0).reason is DropReason.BANNED


def test_a_flood_is_cut_to_the_rate_and_announced_once_per_notice_interval():
    gate = SecurityGate(GateConfig(request_rate=10, request_burst=5, notice_interval=60))
    verdicts = [gate.check(register(), ATTACKER, 0.0) for _ in range(8)]
    assert [d.verdict for d in verdicts[:5]] == [Verdict.ALLOW] * 5
    first_drop = verdicts[5]
    assert first_drop.verdict is Verdict.DROP_AND_PUBLISH
    assert first_drop.reason is DropReason.RATE
    assert first_drop.event is not None and first_drop.event.kind == "security.flood"
    assert first_drop.event.data["source"] == ATTACKER
    assert [d.verdict for d in verdicts[6:]] == [Verdict.DROP, Verdict.DROP]
    assert gate.check(register(), PHONE, 0.0).verdict is Verdict.ALLOW  # others unaffected
    assert gate.check(register(), ATTACKER, 0.1).verdict is Verdict.ALLOW  # one token back
    for _ in range(20):
        gate.check(register(), ATTACKER, 30.0)
    assert gate.check(register(), ATTACKER, 30.0).verdict is Verdict.DROP  # no second event
    assert gate.stats.dropped[DropReason.RATE] == 3 + 16


def test_the_flood_event_comes_again_after_the_notice_interval():
    gate = SecurityGate(GateConfig(request_rate=1, request_burst=1, notice_interval=60))
    gate.check(register(), ATTACKER, 0.0)
    assert gate.check(register(), ATTACKER, 0.0).verdict is Verdict.DROP_AND_PUBLISH
    gate.check(register(), ATTACKER, 61.0)
    assert gate.check(register(), ATTACKER, 61.0).verdict is Verdict.DROP_AND_PUBLISH


def test_a_scanner_is_dropped_announced_and_named_for_a_ban():
    gate = SecurityGate()
    first = gate.check(register(user_agent="friendly-scanner"), ATTACKER, 0.0)
    assert first.verdict is Verdict.DROP_AND_PUBLISH
    assert first.reason is DropReason.SCANNER
    assert first.scanner == "sipvicious"
    assert first.event is not None and first.event.kind == "security.scanner"
    assert first.event.data == {"source": ATTACKER, "tool": "sipvicious", "method": "REGISTER"}
    again = gate.check(register(user_agent="friendly-scanner"), ATTACKER, 1.0)
    assert (again.verdict, again.reason) == (Verdict.DROP, DropReason.SCANNER)


def test_scanner_dropping_can_be_switched_off():
    gate = SecurityGate(GateConfig(drop_scanners=False))
    assert gate.check(register(user_agent="friendly-scanner"), ATTACKER, 0).verdict is Verdict.ALLOW


def test_credentials_naming_a_locked_account_are_dropped_from_any_source():
    gate = SecurityGate()
    gate.add_ban(ban(Subject.account("alice", "Example.COM"), until=100.0))
    locked = register(authorization=credentials("alice"))
    assert gate.check(locked, PHONE, 10.0).reason is DropReason.ACCOUNT_LOCKED
    assert gate.check(locked, ATTACKER, 10.0).reason is DropReason.ACCOUNT_LOCKED
    assert gate.check(register(authorization=credentials("bob")), PHONE, 10).reason is None
    assert gate.check(register(), PHONE, 10.0).reason is None  # no credentials: a challenge
    assert gate.check(locked, PHONE, 100.0).reason is None


def test_malformed_credentials_are_left_for_the_registrar_to_refuse():
    gate = SecurityGate()
    gate.add_ban(ban(Subject.account("alice", "example.com"), until=100.0))
    assert gate.check(register(authorization='Digest username="al'), PHONE, 1).reason is None


def test_exempt_networks_are_never_banned_or_limited_but_scanners_still_dropped():
    gate = SecurityGate(
        GateConfig(request_rate=1, request_burst=1, exempt_networks=("10.0.0.0/8", "::1/128"))
    )
    gate.add_ban(ban(Subject.source("10.1.2.3"), until=100.0))
    for _ in range(5):
        assert gate.check(register(), "10.1.2.3", 0.0).verdict is Verdict.ALLOW
    assert gate.check(register(), "::1", 0.0).verdict is Verdict.ALLOW
    assert gate.check(register(), "::1", 0.0).verdict is Verdict.ALLOW
    scanner = gate.check(register(user_agent="sipcli"), "10.1.2.3", 0.0)
    assert scanner.reason is DropReason.SCANNER
    assert scanner.scanner is None  # dropped, but its source is not to be banned
    assert gate.is_exempt("10.9.9.9") and not gate.is_exempt(ATTACKER)
    assert not gate.is_exempt("not-an-address")


def test_replacing_the_bans_mirrors_the_store_exactly():
    gate = SecurityGate()
    gate.add_ban(ban(Subject.source("192.0.2.1"), until=100.0))
    gate.replace_bans(
        [ban(Subject.source(ATTACKER), until=100.0), ban(Subject.source("192.0.2.2"), until=5)],
        now=10.0,
    )
    assert gate.is_banned(Subject.source(ATTACKER), 10.0)
    assert not gate.is_banned(Subject.source("192.0.2.1"), 10.0)  # lifted elsewhere
    assert not gate.is_banned(Subject.source("192.0.2.2"), 10.0)  # already over
    gate.remove_ban(Subject.source(ATTACKER))
    assert gate.banned_count == 0


def test_a_bad_exempt_network_is_refused():
    with pytest.raises(ValueError):
        GateConfig(exempt_networks=("10.0.0.0/33",))


def test_credentials_with_an_empty_username_are_checked_without_failing():
    gate = SecurityGate()
    gate.add_ban(ban(Subject.account("alice", "example.com"), until=100.0))
    empty = 'Digest username="", realm="example.com", nonce="n", uri="sip:x", response="0"'
    assert gate.check(register(authorization=empty), PHONE, 1.0).verdict is Verdict.ALLOW


HEADER_TEXT = st.text(st.characters(blacklist_categories=("Cc", "Cs")), max_size=200)
DIGEST_LIKE = st.builds(
    lambda user, realm, rest: f'Digest username="{user}", realm="{realm}"{rest}',
    HEADER_TEXT,
    st.sampled_from(["example.com", "EXAMPLE.com", ""]) | HEADER_TEXT,
    HEADER_TEXT,
)


@settings(max_examples=300, deadline=None)
@given(
    user_agent=HEADER_TEXT,
    from_header=HEADER_TEXT,
    authorization=HEADER_TEXT | DIGEST_LIKE,
    source=st.text(max_size=50),
)
def test_any_header_values_and_source_get_a_decision_never_an_exception(
    user_agent, from_header, authorization, source
):
    try:
        request = register(user_agent=user_agent, authorization=authorization)
        request.headers.set("From", from_header)
    except ValueError:  # no message with such a header gets past the parser either
        assume(False)
    gate = SecurityGate(GateConfig(exempt_networks=("10.0.0.0/8",)))
    gate.add_ban(ban(Subject.account("alice", "example.com"), until=100.0))
    assert gate.check(request, source, 1.0).verdict in set(Verdict)
