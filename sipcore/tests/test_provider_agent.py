"""Providers: outbound registration with digest, refresh and back-off; calls out and in.

The provider is a sipcore phone in provider mode: it challenges REGISTER (401) and INVITE
(407) for its trunk account, like a real SIP trunk.
"""

import asyncio
import contextlib
import socket
import time

import pytest

from sipcore.directory import ProviderRecord
from sipcore.endpoint import Endpoint
from sipcore.memory_directory import MemoryDirectory
from sipcore.provider_agent import AgentConfig, ProviderAgent, Registration
from sipcore.tests.phones import DOMAIN, FAST_TIMERS, PASSWORD, Phone, running_world

TRUNK_USER = "trunk"
TRUNK_PASSWORD = "trunk-secret"


def provider_record(provider: Phone | None, **fields) -> ProviderRecord:
    """The trunk's record; its server is ``provider`` unless ``fields`` name another."""
    values = {
        "id": 7,
        "customer_id": 1,
        "name": "trunk",
        "server_uri": f"sip:{provider.local.hostport}" if provider else "",
        "outbound_proxy": "",
        "username": TRUNK_USER,
        "auth_username": "",
        "password": TRUNK_PASSWORD,
        "from_user": "",
        "from_host": "",
        "custom_headers": (("X-Trunk", "yes"),),
        "register": True,
        "register_contact": f"bob@{DOMAIN}",
        "register_expiry": 60,
    }
    values.update(fields)
    return ProviderRecord(**values)


@pytest.fixture
async def provider():
    phone = await Phone.start(user="carrier", domain="provider.test")
    phone.users = {TRUNK_USER: TRUNK_PASSWORD}
    yield phone
    await phone.close()


@contextlib.asynccontextmanager
async def world_with(provider: Phone, **fields):
    """A worker whose customer has ``provider`` as its trunk (registering unless told not)."""
    async with running_world(
        register_providers=True, provider_poll_interval=0.2, provider_retry_base=0.5
    ) as world:
        world.add_account("alice")
        world.add_account("bob")
        world.directory.add_provider(provider_record(provider, **fields))
        provider.server = world.addresses["udp"]
        yield world


async def test_agent_registers_with_digest_and_saves_the_state(provider):
    async with world_with(provider) as world:
        await world.settle(lambda: 7 in world.directory.provider_states)
        state = world.directory.provider_states[7]
        assert state.registered and state.last_status == 200
        assert state.expires_at == pytest.approx(time.time() + 60, abs=5)
        assert state.worker_id == "test-worker"
        register = provider.registered[-1]
        assert register.headers.get("Authorization") is not None
        assert register.contacts[0].uri.user == "bob"
        assert register.contacts[0].uri.port == world.addresses["udp"].port


async def test_agent_refreshes_before_expiry(provider):
    async with world_with(provider, register_expiry=2) as world:
        await world.settle(lambda: len(provider.registered) >= 2, timeout=5)
        first, second = provider.registered[:2]
        assert first.call_id == second.call_id
        assert second.cseq.seq > first.cseq.seq


async def test_refused_credentials_back_off_and_are_reported(provider):
    async with world_with(provider, password="wrong") as world:
        await world.settle(lambda: 7 in world.directory.provider_states)
        state = world.directory.provider_states[7]
        assert not state.registered
        assert "refused" in state.failure_reason
        assert state.next_attempt_at == pytest.approx(time.time() + 0.5, abs=0.4)
        await world.settle(lambda: world.directory.provider_states[7] is not state, timeout=5)
        later = world.directory.provider_states[7]
        assert later.next_attempt_at - time.time() > 0.6


async def test_call_out_through_the_provider_answers_its_407(provider):
    async with world_with(provider, register=False) as world:
        world.directory.add_dialplan(1, "out", 'sys.Dial("${dst}@trunk")')
        world.change_account("alice", outgoing_dialplan="out")
        alice = await world.phone("alice")
        call = await alice.call("sip:5551234@example.test")
        assert call.final.status == 200
        assert call.final.body == provider.answer_body
        invite = (await provider.incoming.get()).invite
        assert invite.uri.user == "5551234"
        assert invite.from_addr.uri.user == TRUNK_USER
        assert invite.headers.get("Proxy-Authorization") is not None
        assert invite.headers.get("X-Trunk") == "yes"
        assert invite.body == call.invite.body
        await call.bye()
        await world.settle(lambda: len(world.details()) == 2)
        assert {d["provider_id"] for d in world.details()} == {None, 7}


async def test_call_in_from_the_provider_reaches_the_registered_account(provider):
    async with world_with(provider, register=False) as world:
        bob = await world.phone("bob")
        udp = world.addresses["udp"]
        call = await provider.call(f"sip:bob@{udp.hostport}", from_host="provider.test")
        assert call.final.status == 200
        incoming = await bob.incoming.get()
        assert incoming.invite.body == call.invite.body
        await call.bye()
        await asyncio.wait_for(incoming.ended.wait(), 5)
        await world.settle(lambda: len(world.details()) == 2)
        caller = next(d for d in world.details() if d["direction"] == "in")
        assert caller["provider_id"] == 7


async def test_call_in_from_the_provider_for_an_unknown_user_gets_404(provider):
    async with world_with(provider, register=False) as world:
        udp = world.addresses["udp"]
        call = await provider.call(f"sip:nobody@{udp.hostport}", from_host="provider.test")
        assert call.final.status == 404


async def test_a_second_worker_as_the_provider_registration_and_calls_both_ways():
    async with running_world(domain="provider.test") as carrier:
        carrier.add_account("trunk")
        carrier.add_account("5551234")
        number = await carrier.phone("5551234")
        async with running_world(
            register_providers=True, provider_poll_interval=0.2, provider_retry_base=0.5
        ) as world:
            world.add_account("alice")
            world.add_account("bob")
            world.directory.add_provider(
                provider_record(
                    number,
                    server_uri="sip:provider.test",
                    outbound_proxy=f"sip:{carrier.addresses['udp'].hostport}",
                    password=PASSWORD,
                    from_host="provider.test",
                    custom_headers=(),
                )
            )
            await world.settle(lambda: 7 in world.directory.provider_states, timeout=5)
            assert world.directory.provider_states[7].registered

            world.directory.add_dialplan(1, "out", 'sys.Dial("${dst}@trunk")')
            world.change_account("alice", outgoing_dialplan="out")
            alice = await world.phone("alice")
            out = await alice.call("sip:5551234@example.test")
            assert out.final.status == 200
            assert out.final.body == number.answer_body
            await out.bye()

            bob = await world.phone("bob")
            back = await number.call("sip:trunk@provider.test")
            assert back.final.status == 200
            assert back.final.body == bob.answer_body
            await back.bye()
            await world.settle(lambda: world.worker.active_calls == 0)


async def test_a_provider_that_never_answers_is_reported_with_408_and_retried_later():
    endpoint = Endpoint(FAST_TIMERS)
    await endpoint.listen("udp", "127.0.0.1", 0)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))
        port = silent.getsockname()[1]
        agent = ProviderAgent(
            endpoint=endpoint,
            directory=MemoryDirectory(),
            clock=time.time,
            config=AgentConfig(request_timeout=0.3, retry_base=10),
        )
        provider = provider_record(None, server_uri=f"sip:127.0.0.1:{port}")
        try:
            state = await agent.register(Registration(provider))
        finally:
            await endpoint.close()
    assert (state.registered, state.last_status) == (False, 408)
    assert state.failure_reason == "no answer from the provider"
    assert state.next_attempt_at == pytest.approx(time.time() + 10, abs=1)
