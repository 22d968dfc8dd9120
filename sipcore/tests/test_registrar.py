"""The registrar's rules, with MemoryDirectory and an injected clock (no sockets)."""

import re
from dataclasses import replace
from types import SimpleNamespace

import pytest

from sipcore.auth import DigestClient, DigestServer
from sipcore.events import MemoryEventSink
from sipcore.memory_directory import MemoryDirectory, account, customer
from sipcore.message import Request, Response, new_call_id
from sipcore.registrar import Registrar, RegistrarConfig
from sipcore.tests.phones import DOMAIN, hashes
from sipcore.transport import Peer

PHONE = Peer("udp", "127.0.0.1", 5099)


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def world():
    directory = MemoryDirectory()
    owner = customer(1)
    alice = directory.add_account(account(owner, "alice", DOMAIN, hashes("alice", "secret")))
    events = MemoryEventSink()
    clock = Clock()
    registrar = Registrar(
        directory=directory,
        events=events,
        digest=DigestServer(secret=b"s" * 32),
        config=RegistrarConfig(worker_id="w1", default_domain=DOMAIN, max_bindings=2),
        clock=clock,
    )
    return SimpleNamespace(
        registrar=registrar, directory=directory, events=events, clock=clock, alice=alice
    )


class Registering:
    """A phone's REGISTERs: one Call-ID, rising CSeq, answering challenges."""

    def __init__(self, user="alice", password="secret", domain=DOMAIN) -> None:
        self.user = user
        self.domain = domain
        self.call_id = new_call_id()
        self.cseq = 0
        self.client = DigestClient(username=user, password=password)
        self.last: Response | None = None

    def request(self, contacts=("<sip:alice@127.0.0.1:5099>",), expires=None, credentials=True):
        self.cseq += 1
        headers = [
            ("Via", f"SIP/2.0/UDP 127.0.0.1:5099;branch=z9hG4bK{self.cseq}x{self.call_id[:8]}"),
            ("From", f"<sip:{self.user}@{self.domain}>;tag=t1"),
            ("To", f"<sip:{self.user}@{self.domain}>"),
            ("Call-ID", self.call_id),
            ("CSeq", f"{self.cseq} REGISTER"),
        ]
        headers += [("Contact", contact) for contact in contacts]
        if expires is not None:
            headers.append(("Expires", str(expires)))
        if credentials and self.last is not None and self.last.status == 401:
            value = self.client.authorize(
                self.last.headers.get_all("WWW-Authenticate"),
                method="REGISTER",
                uri=f"sip:{self.domain}",
            )
            headers.append(("Authorization", value))
        return Request("REGISTER", f"sip:{self.domain}", headers)

    async def send(self, registrar, source=PHONE, client=None, **kwargs) -> Response:
        """Send (from ``client`` behind ``source``), and when challenged send again with
        credentials."""
        response = await registrar.handle(self.request(**kwargs), source, client)
        if response.status == 401:
            self.last = response
            response = await registrar.handle(self.request(**kwargs), source, client)
        return response


async def test_challenge_offers_sha256_and_md5_with_qop_auth(world):
    response = await world.registrar.handle(Registering().request(), PHONE)
    challenges = response.headers.get_all("WWW-Authenticate")
    assert response.status == 401
    assert ["SHA-256" in challenges[0], "MD5" in challenges[1]] == [True, True]
    assert all('qop="auth"' in value for value in challenges)


async def test_register_with_digest_stores_the_binding_and_lists_it(world):
    response = await Registering().send(world.registrar, expires=300)
    assert response.status == 200
    assert response.headers.get_all("Contact") == ["<sip:alice@127.0.0.1:5099>;expires=300"]
    [binding] = await world.directory.bindings(world.alice.id, world.clock.now)
    assert (binding.received_host, binding.received_port, binding.transport) == (
        "127.0.0.1",
        5099,
        "udp",
    )
    assert binding.expires_at == world.clock.now + 300
    assert binding.worker_id == "w1"
    assert world.events.kinds() == ["registration.added"]
    assert world.events.events[0].customer_id == 1


async def test_a_phone_registers_under_an_alias_of_its_domain(world):
    world.directory.add_domain(DOMAIN, "pbx.alias.test")
    phone = Registering(domain="pbx.alias.test")
    response = await phone.send(world.registrar, expires=300)
    assert f'realm="{DOMAIN}"' in phone.last.headers.get("WWW-Authenticate")
    assert response.status == 200
    assert len(await world.directory.bindings(world.alice.id, world.clock.now)) == 1


async def test_md5_only_client_registers_too(world):
    phone = Registering()
    phone.last = await world.registrar.handle(phone.request(), PHONE)
    md5_only = [v for v in phone.last.headers.get_all("WWW-Authenticate") if "MD5" in v]
    value = phone.client.authorize(md5_only, method="REGISTER", uri=f"sip:{DOMAIN}")
    request = phone.request(credentials=False)
    request.headers.add("Authorization", value)
    assert "MD5" in value
    assert (await world.registrar.handle(request, PHONE)).status == 200


async def test_unknown_user_and_wrong_password_are_answered_alike(world):
    wrong = await Registering(password="nope").send(world.registrar)
    unknown = await Registering(user="mallory", password="nope").send(world.registrar)
    assert (wrong.status, wrong.reason) == (unknown.status, unknown.reason) == (403, "Forbidden")
    first_unknown = await world.registrar.handle(Registering(user="nobody").request(), PHONE)
    first_known = await world.registrar.handle(Registering().request(), PHONE)
    assert first_unknown.status == first_known.status == 401


async def test_disabled_account_gets_403(world):
    world.directory.add_account(replace(world.alice, disabled=True))
    assert (await Registering().send(world.registrar)).status == 403


async def test_ip_allow_list(world):
    world.directory.add_account(replace(world.alice, ip_allow_list=("10.0.0.0/8",)))
    assert (await Registering().send(world.registrar)).status == 403
    inside = Peer("udp", "10.1.2.3", 5060)
    assert (await Registering().send(world.registrar, source=inside)).status == 200


async def test_expires_below_minimum_gets_423_with_min_expires(world):
    response = await Registering().send(world.registrar, expires=10)
    assert response.status == 423
    assert response.headers.get("Min-Expires") == "60"


async def test_expires_above_maximum_is_capped_and_contact_param_wins(world):
    response = await Registering().send(
        world.registrar, contacts=("<sip:alice@127.0.0.1:5099>;expires=99999",), expires=120
    )
    assert response.headers.get_all("Contact") == ["<sip:alice@127.0.0.1:5099>;expires=3600"]


async def test_default_expires_when_none_given(world):
    response = await Registering().send(world.registrar)
    assert response.headers.get("Contact").endswith(";expires=600")


async def test_expires_zero_removes_one_binding(world):
    phone = Registering()
    await phone.send(world.registrar, contacts=("<sip:a@127.0.0.1:1>", "<sip:b@127.0.0.1:2>"))
    response = await world.registrar.handle(
        phone.request(contacts=("<sip:a@127.0.0.1:1>;expires=0",)), PHONE
    )
    assert response.headers.get_all("Contact") == ["<sip:b@127.0.0.1:2>;expires=600"]
    assert "registration.removed" in world.events.kinds()


async def test_star_with_expires_zero_removes_every_binding(world):
    phone = Registering()
    await phone.send(world.registrar, contacts=("<sip:a@127.0.0.1:1>", "<sip:b@127.0.0.1:2>"))
    response = await world.registrar.handle(phone.request(contacts=("*",), expires=0), PHONE)
    assert response.status == 200
    assert response.headers.get_all("Contact") == []
    assert await world.directory.bindings(world.alice.id, world.clock.now) == []


async def test_star_without_expires_zero_is_a_bad_request(world):
    response = await Registering().send(world.registrar, contacts=("*",), expires=60)
    assert response.status == 400


async def test_max_bindings_evicts_the_oldest(world):
    phone = Registering()
    for n in range(3):
        world.clock.now += 1
        await phone.send(world.registrar, contacts=(f"<sip:p{n}@127.0.0.1:{n + 1}>",))
    uris = [
        binding.contact_uri
        for binding in await world.directory.bindings(world.alice.id, world.clock.now)
    ]
    assert sorted(uris) == ["sip:p1@127.0.0.1:2", "sip:p2@127.0.0.1:3"]


async def test_query_without_contact_lists_bindings_with_time_left(world):
    phone = Registering()
    await phone.send(world.registrar, expires=300)
    world.clock.now += 100
    response = await world.registrar.handle(phone.request(contacts=()), PHONE)
    assert response.headers.get_all("Contact") == ["<sip:alice@127.0.0.1:5099>;expires=200"]


async def test_a_refresh_reads_the_bindings_once_and_lists_what_the_write_left(world, monkeypatch):
    """The 200 lists the bindings the write returned: a second read would cost every
    registration another version check in Redis."""
    phone = Registering()
    await phone.send(world.registrar, expires=300)
    other = Registering()
    await other.send(world.registrar, contacts=("<sip:alice@127.0.0.1:5098>",), expires=600)
    reads = []
    read = world.directory.bindings

    async def counted(account_id, now):
        reads.append(account_id)
        return await read(account_id, now)

    monkeypatch.setattr(world.directory, "bindings", counted)
    world.clock.now += 100
    response = await phone.send(world.registrar, expires=300)

    assert reads == [world.alice.id]
    assert response.headers.get_all("Contact") == [
        "<sip:alice@127.0.0.1:5098>;expires=500",
        "<sip:alice@127.0.0.1:5099>;expires=300",
    ]


async def test_no_gruu_is_offered(world):
    contact = '<sip:alice@127.0.0.1:5099>;+sip.instance="<urn:uuid:1>";reg-id=1'
    response = await Registering().send(world.registrar, contacts=(contact,))
    assert response.status == 200
    assert not re.search(r"gruu|gr=", str(response.to_bytes()), re.IGNORECASE)


async def test_stale_nonce_is_challenged_again_with_stale_true(world):
    phone = Registering()
    phone.last = await world.registrar.handle(phone.request(), PHONE)
    world.clock.now += 3600
    response = await world.registrar.handle(phone.request(), PHONE)
    assert response.status == 401
    assert "stale=true" in response.headers.get("WWW-Authenticate").lower()


async def test_replayed_credentials_are_refused(world):
    phone = Registering()
    phone.last = await world.registrar.handle(phone.request(), PHONE)
    request = phone.request()
    replay = Request("REGISTER", request.uri, request.headers.copy())
    assert (await world.registrar.handle(request, PHONE)).status == 200
    response = await world.registrar.handle(replay, PHONE)
    assert response.status == 401
    assert "stale=true" in response.headers.get("WWW-Authenticate").lower()


async def test_out_of_order_register_is_refused(world):
    phone = Registering()
    phone.cseq = 100
    await phone.send(world.registrar)
    phone.cseq = 50
    assert (await phone.send(world.registrar)).status == 500


async def test_expiry_sweep_publishes_registration_expired(world):
    await Registering().send(world.registrar, expires=60)
    world.clock.now += 61
    expired = await world.registrar.expire()
    assert [binding.contact_uri for binding in expired] == ["sip:alice@127.0.0.1:5099"]
    assert world.events.kinds()[-1] == "registration.expired"


async def test_malformed_contact_is_a_bad_request(world):
    response = await Registering().send(
        world.registrar, contacts=("<sip:alice@127.0.0.1;expires=x",)
    )
    assert response.status == 400


async def test_a_phone_using_our_address_as_its_domain_registers_in_the_default_domain(world):
    phone = Registering()
    request = phone.request()
    request.headers.set("To", "<sip:alice@127.0.0.1>")
    challenge = await world.registrar.handle(request, PHONE)
    assert f'realm="{DOMAIN}"' in challenge.headers.get("WWW-Authenticate")
    phone.last = challenge
    request = phone.request()
    request.headers.set("To", "<sip:alice@127.0.0.1>")
    assert (await world.registrar.handle(request, PHONE)).status == 200
    assert len(await world.directory.bindings(world.alice.id, world.clock.now)) == 1
