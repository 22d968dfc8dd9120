"""Behind a front door (Kamailio) the gate judges the phone the front door names in
``X-Sipplatform-Source``, and only a trusted front door is believed: bans, rate limits and
failure counts fall on the phone, the front door itself is never banned, and the header is
removed from anything else. A front door gets an answer, never silence, for a phone's request
the gate drops, saying how long to drop that phone's requests itself."""

import time

import pytest

from sipcore.auth import DigestClient
from sipcore.message import Request, Response
from sipcore.security import (
    BanPolicy,
    Decision,
    DropReason,
    GateConfig,
    SecurityGate,
    Subject,
    Verdict,
)
from sipcore.security.endpoint import MAX_EDGE_BLOCK, REFUSED_HEADER, refusal
from sipcore.security.gate import SOURCE_HEADER
from sipcore.tests.test_security_endpoint import REALM, Client, secured_server, settle
from sipcore.transport import Peer

FRONT_DOOR = "10.0.0.5"
ATTACKER = "203.0.113.9"
PHONE = "198.51.100.7"


def request(*sources: str) -> Request:
    headers = [
        ("Via", "SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bK1"),
        ("From", "<sip:alice@example.com>;tag=1"),
        ("To", "<sip:alice@example.com>"),
        ("Call-ID", "c1"),
        ("CSeq", "1 REGISTER"),
    ]
    headers += [(SOURCE_HEADER, source) for source in sources]
    return Request("REGISTER", "sip:example.com", headers)


class FrontDoor(Client):
    """A UDP socket relaying REGISTERs for phones, naming each in ``X-Sipplatform-Source``."""

    async def register_as(self, source: str, password: str) -> Response | None:
        named = [(SOURCE_HEADER, source)]
        challenge = await self.exchange(self.request(headers=named))
        assert challenge is not None and challenge.status == 401
        client = DigestClient(username="alice", password=password)
        authorization = client.authorize(
            challenge.headers.get_all("WWW-Authenticate"), method="REGISTER", uri=f"sip:{REALM}"
        )
        named.append(("Authorization", authorization))
        return await self.exchange(self.request(headers=named))


def front_door_gate(**config) -> SecurityGate:
    return SecurityGate(GateConfig(exempt_networks=(), front_doors=("10.0.0.0/29",), **config))


def test_a_front_door_names_the_address_to_judge_and_keeps_its_header():
    gate = front_door_gate()
    message = request(f"udp:{PHONE}:5062")
    assert gate.client_address(message, FRONT_DOOR) == PHONE
    assert message.headers.get(SOURCE_HEADER) == f"udp:{PHONE}:5062"
    assert gate.client_address(request(), FRONT_DOOR) == FRONT_DOOR  # its own request


@pytest.mark.parametrize(
    ("named", "judged"),
    [
        ("tcp:[2001:db8::7]:5060", "2001:db8::7"),
        ("udp:2001:db8::7:5060", "2001:db8::7"),  # Kamailio's $si:$sp writes it bare
        ("tls:198.51.100.7:5061", PHONE),
    ],
)
def test_every_transport_and_address_family_the_front_door_writes_is_read(named, judged):
    assert front_door_gate().client_address(request(named), FRONT_DOOR) == judged


@pytest.mark.parametrize(
    ("named", "client"),
    [
        (f"udp:{PHONE}:5062", Peer("udp", PHONE, 5062)),
        ("TCP:[2001:db8::7]:5070", Peer("tcp", "2001:db8::7", 5070)),
        (f"tls:{PHONE}:5061", Peer("tcp", PHONE, 5061)),  # connection-oriented, like tcp
    ],
)
def test_the_whole_client_address_is_read_with_its_transport_and_port(named, client):
    assert front_door_gate().client(request(named), Peer("udp", FRONT_DOOR, 5060)) == client


@pytest.mark.parametrize("named", [f"udp:{PHONE}:70000", f"udp:{PHONE}:5060"])
def test_the_client_is_the_sender_when_the_port_is_impossible_or_the_sender_untrusted(named):
    sender = Peer("udp", ATTACKER if named.endswith("5060") else FRONT_DOOR, 5060)
    assert front_door_gate().client(request(named), sender) == sender


def test_the_header_from_anyone_else_is_ignored_and_removed():
    gate = front_door_gate()
    smuggled = request(f"udp:{PHONE}:5060")
    assert gate.client_address(smuggled, ATTACKER) == ATTACKER
    assert SOURCE_HEADER not in smuggled.headers


@pytest.mark.parametrize(
    "sources",
    [
        ("udp:not-an-address:5060",),
        ("198.51.100.7:5060",),
        ("udp:198.51.100.7",),
        (f"udp:{PHONE}:5060", f"udp:{ATTACKER}:5060"),
    ],
)
def test_an_unreadable_or_repeated_header_is_not_believed_even_from_a_front_door(sources):
    message = request(*sources)
    assert front_door_gate().client_address(message, FRONT_DOOR) == FRONT_DOOR
    assert SOURCE_HEADER not in message.headers


def test_a_front_door_is_never_rate_limited_or_banned_but_its_phones_are():
    gate = front_door_gate(request_rate=1.0, request_burst=2.0)
    assert gate.is_exempt(FRONT_DOOR) and not gate.is_exempt(PHONE)
    verdicts = [gate.check(request(), FRONT_DOOR, 0.0).verdict for _ in range(10)]
    assert verdicts == [Verdict.ALLOW] * 10
    verdicts = [gate.check(request(), PHONE, 0.0).verdict for _ in range(4)]
    assert verdicts[:2] == [Verdict.ALLOW] * 2 and Verdict.ALLOW not in verdicts[2:]


def test_a_response_is_judged_on_its_sender_whatever_it_carries():
    response = Response(200, "OK", [(SOURCE_HEADER, f"udp:{PHONE}:5060")])
    assert front_door_gate().client_address(response, FRONT_DOOR) == FRONT_DOOR
    assert SOURCE_HEADER not in response.headers


def test_a_front_door_network_that_is_not_one_is_refused():
    with pytest.raises(ValueError, match="front"):
        GateConfig(front_doors=("front-door",))


async def test_failures_through_a_front_door_ban_the_phone_and_spare_the_door_and_the_others():
    gate = GateConfig(exempt_networks=(), front_doors=("127.0.0.1/32",))
    async with secured_server(BanPolicy(max_source_failures=3, first_ban=60.0), gate) as server:
        door = FrontDoor(server.port)  # relays for two phones, as Kamailio does
        attacker, phone = f"udp:{ATTACKER}:5070", f"udp:{PHONE}:5080"
        try:
            for _ in range(3):
                assert (await door.register_as(attacker, "guess")).status == 403
            await settle(lambda: "security.banned" in server.events.kinds())
            assert server.events.events[-1].data["value"] == ATTACKER
            named = [(SOURCE_HEADER, attacker)]
            refused = await door.exchange(door.request("OPTIONS", headers=named))
            assert refused is not None and refused.status == 403
            assert refused.headers.get(REFUSED_HEADER) == f"banned;seconds={MAX_EDGE_BLOCK}"
            assert (await door.register_as(phone, "secret")).status == 200
            assert (await door.exchange(door.request("OPTIONS"))).status == 200
            gate = server.service.gate
            assert not gate.is_banned(Subject.source("127.0.0.1"), time.time())
        finally:
            door.close()


async def test_a_phone_naming_another_source_is_judged_on_its_own_address():
    gate = GateConfig(exempt_networks=(), front_doors=("192.0.2.0/24",))
    async with secured_server(BanPolicy(max_source_failures=3, first_ban=60.0), gate) as server:
        phone = FrontDoor(server.port)  # but not a trusted one
        try:
            for _ in range(3):
                assert (await phone.register_as(f"udp:{PHONE}:5080", "guess")).status == 403
            await settle(lambda: "security.banned" in server.events.kinds())
            assert server.events.events[-1].data["value"] == "127.0.0.1"
            assert await phone.exchange(phone.request("OPTIONS")) is None  # silence for it
        finally:
            phone.close()


@pytest.mark.parametrize(
    ("reason", "remaining", "status", "header"),
    [
        (DropReason.BANNED, 12.2, 403, "banned;seconds=13"),
        (DropReason.BANNED, 3600.0, 403, f"banned;seconds={MAX_EDGE_BLOCK}"),
        (DropReason.BANNED, 0.0, 403, "banned;seconds=1"),
        (DropReason.SCANNER, 0.0, 403, f"scanner;seconds={MAX_EDGE_BLOCK}"),
        (DropReason.RATE, 0.0, 503, "rate;seconds=1"),
        (DropReason.ACCOUNT_LOCKED, 0.0, 403, "account-locked;seconds=0"),
    ],
)
def test_a_refusal_tells_the_front_door_how_long_to_drop_the_phone(
    reason, remaining, status, header
):
    refused = refusal(Decision(Verdict.DROP, reason), remaining)
    assert (refused.status, refused.headers.get(REFUSED_HEADER)) == (status, header)


async def test_a_phone_over_its_rate_behind_a_front_door_gets_503_and_others_do_not():
    gate = GateConfig(
        exempt_networks=(), front_doors=("127.0.0.1/32",), request_rate=1.0, request_burst=2.0
    )
    async with secured_server(gate=gate) as server:
        door = FrontDoor(server.port)
        chatty = [(SOURCE_HEADER, f"udp:{ATTACKER}:5070")]
        try:
            statuses = [
                (await door.exchange(door.request("OPTIONS", headers=chatty))).status
                for _ in range(3)
            ]
            assert statuses == [200, 200, 503]
            calm = [(SOURCE_HEADER, f"udp:{PHONE}:5080")]
            assert (await door.exchange(door.request("OPTIONS", headers=calm))).status == 200
        finally:
            door.close()
