"""Behind a trusted front door (Kamailio) a request is judged by the phone's address the door
names in ``X-Sipplatform-Source``, everywhere a sender's address decides something: the
account's IP allow list at REGISTER, provider matching, and the failed-credential counts the
registrar reports. Responses and the registration binding still go to the front door, which
relays them. From anyone else the header is ignored and the sender itself is judged.

A SipWorker on UDP loopback; a bare socket plays the front door."""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace

import pytest

from sipcore.auth import DigestClient, DigestServer
from sipcore.b2bua.admission import Admission, Refused
from sipcore.b2bua.hairpin import HairpinMark
from sipcore.events import MemoryEventSink
from sipcore.memory_directory import MemoryDirectory, account, customer
from sipcore.message import Request, Response, new_branch, new_call_id, new_tag
from sipcore.registrar import Registrar, RegistrarConfig
from sipcore.security import BanPolicy, GateConfig, Subject
from sipcore.security.gate import SOURCE_HEADER
from sipcore.tests.phones import DOMAIN, PASSWORD, hashes, running_world
from sipcore.tests.test_registrar import Clock, Registering
from sipcore.tests.test_security_endpoint import BareUdpSocket
from sipcore.transport import Peer

ALLOWED = "192.0.2.10"
OTHER = "198.51.100.7"
PROVIDER = "203.0.113.5"
FRONT_DOOR = Peer("udp", "127.0.0.1", 5060)


class Door(BareUdpSocket):
    """A UDP socket sending requests as a front door does, naming a phone's address."""

    answer_wait = 2.0

    def __init__(self, worker: Peer) -> None:
        super().__init__(worker.address())

    def request(self, method: str, uri: str, phone: str, *, user: str = "alice", extra=()) -> bytes:
        headers = [
            ("Via", f"SIP/2.0/UDP 127.0.0.1:{self.port};branch={new_branch()};rport"),
            ("Max-Forwards", "70"),
            (
                "From",
                f"<sip:{user}@{DOMAIN if method == 'REGISTER' else 'far.example'}>;tag={new_tag()}",
            ),
            ("To", f"<sip:{user}@{DOMAIN}>"),
            ("Call-ID", new_call_id()),
            ("CSeq", f"1 {method}"),
            ("Contact", f"<sip:{user}@127.0.0.1:{self.port}>"),
            (SOURCE_HEADER, f"udp:{phone}:5062"),
            *extra,
        ]
        return Request(method, uri, headers).to_bytes()

    async def register(self, phone: str, password: str = PASSWORD) -> Response | None:
        uri = f"sip:{DOMAIN}"
        challenge = await self.exchange(self.request("REGISTER", uri, phone))
        assert challenge is not None and challenge.status == 401
        authorization = DigestClient(username="alice", password=password).authorize(
            challenge.headers.get_all("WWW-Authenticate"), method="REGISTER", uri=uri
        )
        extra = [("Authorization", authorization)]
        return await self.exchange(self.request("REGISTER", uri, phone, extra=extra))


@pytest.fixture
async def front(request):
    """A worker trusting 127.0.0.1 as a front door (``trusted`` False: a front door elsewhere)."""
    trusted = getattr(request, "param", True)
    gate = GateConfig(
        exempt_networks=(), front_doors=("127.0.0.1/32",) if trusted else ("10.0.0.0/8",)
    )
    policy = BanPolicy(max_source_failures=3, max_account_failures=100, first_ban=60.0)
    async with running_world(security_gate=gate, ban_policy=policy) as world:
        world.add_account("alice")
        door = Door(world.addresses["udp"])
        try:
            yield SimpleNamespace(world=world, door=door)
        finally:
            door.close()


async def test_an_allow_listed_account_registers_through_the_front_door_from_an_allowed_address(
    front,
):
    front.world.change_account("alice", ip_allow_list=("192.0.2.0/24",))
    assert (await front.door.register(ALLOWED)).status == 200
    [binding] = await front.world.directory.bindings(
        front.world.directory.accounts[("alice", DOMAIN)].id, front.world.worker.clock()
    )
    # reached through the front door, which relays to the phone
    assert (binding.received_host, binding.received_port) == ("127.0.0.1", front.door.port)


async def test_an_allow_listed_account_is_refused_when_the_front_door_names_another_address(front):
    front.world.change_account("alice", ip_allow_list=("192.0.2.0/24",))
    assert (await front.door.register(OTHER)).status == 403


@pytest.mark.parametrize("front", [False], indirect=True)
async def test_the_header_from_an_untrusted_sender_is_ignored_and_the_sender_is_judged(front):
    front.world.change_account("alice", ip_allow_list=("192.0.2.0/24",))
    assert (await front.door.register(ALLOWED)).status == 403
    front.world.change_account("alice", ip_allow_list=("127.0.0.0/8",))
    assert (await front.door.register(OTHER)).status == 200


async def test_wrong_passwords_through_the_front_door_ban_the_phone_not_the_door(front):
    for _ in range(3):
        assert (await front.door.register(OTHER, "guess")).status == 403
    gate = front.world.worker.security.gate
    await front.world.settle(
        lambda: gate.is_banned(Subject.source(OTHER), front.world.worker.clock())
    )
    assert not gate.is_banned(Subject.source("127.0.0.1"), front.world.worker.clock())
    assert (await front.door.register(ALLOWED)).status == 200


async def test_a_provider_behind_the_front_door_is_matched_by_its_own_address(front):
    """A call in from the provider reaches the account its register contact names; the same
    INVITE from anyone else is refused, so the worker is no open relay."""
    front.world.add_trunk(7, f"{PROVIDER}:5062", register_contact=f"alice@{DOMAIN}")
    uri = "sip:alice@127.0.0.1"  # no served domain: only the provider's account matches
    from_provider = await front.door.exchange(front.door.request("INVITE", uri, PROVIDER))
    assert from_provider is not None
    assert from_provider.status == 480  # admitted as a call to alice, who is not registered
    from_other = await front.door.exchange(front.door.request("INVITE", uri, OTHER))
    assert (from_other.status, from_other.reason) == (403, "Not a served domain")


# the verdicts the registrar reports (sipcore.account_auth.AuthReport) ---------------------


class Report:
    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def credentials_failed(self, client: str, username: str | None, realm: str, now: float):
        self.calls.append(("failed", client, username, realm))

    def credentials_proved(self, username: str, realm: str) -> None:
        self.calls.append(("proved", username, realm))


@pytest.fixture
def reported():
    directory = MemoryDirectory()
    alice = directory.add_account(account(customer(1), "alice", DOMAIN, hashes("alice")))
    report = Report()
    registrar = Registrar(
        directory=directory,
        events=MemoryEventSink(),
        digest=DigestServer(secret=b"s" * 32),
        config=RegistrarConfig(default_domain=DOMAIN),
        clock=Clock(),
        auth_report=report,
    )
    return SimpleNamespace(registrar=registrar, directory=directory, alice=alice, report=report)


PHONE = Peer("udp", OTHER, 5070)


async def test_a_wrong_password_is_reported_as_a_failure_of_the_client_address(reported):
    response = await Registering(password="guess").send(reported.registrar, FRONT_DOOR)
    assert response.status == 403
    assert reported.report.calls == [("failed", "127.0.0.1", "alice", DOMAIN)]
    reported.report.calls.clear()
    registering = Registering(password="guess")
    first = await reported.registrar.handle(registering.request(), FRONT_DOOR, PHONE)
    registering.last = first
    await reported.registrar.handle(registering.request(), FRONT_DOOR, PHONE)
    assert reported.report.calls == [("failed", OTHER, "alice", DOMAIN)]


async def test_an_unknown_user_is_reported_like_a_wrong_password(reported):
    response = await Registering(user="mallory").send(reported.registrar, FRONT_DOOR, PHONE)
    assert response.status == 403
    assert reported.report.calls == [("failed", OTHER, "mallory", DOMAIN)]


async def test_the_first_unauthenticated_try_is_no_verdict(reported):
    assert (await reported.registrar.handle(Registering().request(), PHONE)).status == 401
    assert reported.report.calls == []


async def test_right_credentials_from_outside_the_allow_list_are_refused_but_no_failure(reported):
    """An allow list is the account's policy, not a guessed password: nothing to ban for."""
    reported.directory.add_account(replace(reported.alice, ip_allow_list=("192.0.2.0/24",)))
    response = await Registering().send(reported.registrar, FRONT_DOOR, PHONE)
    assert response.status == 403
    assert reported.report.calls == [("proved", "alice", DOMAIN)]
    response = await Registering().send(reported.registrar, FRONT_DOOR, Peer("udp", ALLOWED, 5))
    assert response.status == 200


def invite(proxy_authorization: str | None = None) -> Request:
    headers = [
        ("Via", "SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKinv"),
        ("From", f"<sip:alice@{DOMAIN}>;tag=a1"),
        ("To", f"<sip:0900123456@{DOMAIN}>"),
        ("Call-ID", "admission-report"),
        ("CSeq", "1 INVITE"),
    ]
    if proxy_authorization is not None:
        headers.append(("Proxy-Authorization", proxy_authorization))
    return Request("INVITE", f"sip:0900123456@{DOMAIN}", headers)


@pytest.mark.parametrize(("password", "verdict"), [("guess", "failed"), (PASSWORD, "proved")])
async def test_call_admission_reports_the_callers_credentials_with_its_own_address(
    reported, password, verdict
):
    admission = Admission(
        directory=reported.directory,
        digest=reported.registrar.digest,
        hairpin=HairpinMark(b"h" * 32),
        clock=reported.registrar.clock,
        auth_report=reported.report,
    )
    reported.directory.add_domain(DOMAIN)
    challenge = await admission.admit(invite(), PHONE)
    assert isinstance(challenge, Refused) and challenge.status == 407
    assert reported.report.calls == []
    answer = DigestClient(username="alice", password=password).authorize(
        [value for _, value in challenge.headers],
        method="INVITE",
        uri=f"sip:0900123456@{DOMAIN}",
    )
    await admission.admit(invite(answer), PHONE)
    expected = (
        ("failed", OTHER, "alice", DOMAIN) if verdict == "failed" else ("proved", "alice", DOMAIN)
    )
    assert reported.report.calls == [expected]
