"""``DjangoDirectory`` against the real models on the test database, every protocol method.

The directory runs its queries on threads of its own, so these tests commit their data
(``transaction=True``): a row written inside a test's open transaction would be invisible
to another thread's connection.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time

import pytest
import redis
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.db import connections
from django.test import override_settings

from sipcore.directory import BindingRecord, ProviderRegistrationState
from sipplatform.customers.models import Customer
from sipplatform.customers.services import create_customer
from sipplatform.dialplans.models import DestinationPolicy, Dialplan
from sipplatform.directory.models import Binding, SIPAccount, SIPDomain
from sipplatform.directory.services import create_sip_account
from sipplatform.providers.models import Provider, ProviderRegistration
from sipplatform.providers.services import create_provider
from sipplatform.sipworker import directory as directory_module
from sipplatform.sipworker.changes import CHANGED_MESSAGE, CHANGES_GROUP, directory_changed
from sipplatform.sipworker.directory import DjangoDirectory

pytestmark = pytest.mark.django_db(transaction=True)

NOW = 1_800_000_000.0


async def in_db(query, *args, **kwargs):
    """Run test set-up or a check on the database from the async test body.

    On a thread whose connection is closed afterwards: an open one would keep PostgreSQL
    from dropping the test database at the end of the run.
    """

    def run():
        try:
            return query(*args, **kwargs)
        finally:
            connections.close_all()

    return await sync_to_async(run)()


@pytest.fixture
async def directory():
    directory = DjangoDirectory(threads=2, clock=lambda: NOW)
    yield directory
    await directory.close()


@pytest.fixture
def acme() -> Customer:
    return create_customer("Acme")


@pytest.fixture
def domain(acme) -> SIPDomain:
    return SIPDomain.objects.create(name="acme.sip.test", aliases=["10.0.0.5"], customer=acme)


@pytest.fixture
def alice(acme, domain) -> SIPAccount:
    outgoing = Dialplan.objects.create(customer=acme, name="out", script="x = 1\n")
    account, _ = create_sip_account(
        acme,
        "alice",
        password="Sesame-Open-42",
        domain=domain,
        outgoing_dialplan=outgoing,
        ip_allow_list=["192.0.2.0/24"],
        max_concurrent_calls=3,
        transfer_default="c",
    )
    return account


def counting(monkeypatch, name: str) -> list[str]:
    """Record each database lookup ``name`` makes (as ``user@domain``) and let it run."""
    calls: list[str] = []
    real = getattr(directory_module, name)

    def counted(*args):
        calls.append("@".join(map(str, args)))
        return real(*args)

    monkeypatch.setattr(directory_module, name, counted)
    return calls


def binding(account_id: int, contact: str, expires_at: float, **fields) -> BindingRecord:
    values = {
        "account_id": account_id,
        "contact_uri": contact,
        "transport": "udp",
        "received_host": "192.0.2.10",
        "received_port": 5062,
        "expires_at": expires_at,
        "call_id": "reg-1",
        "cseq": 1,
        "worker_id": "w1",
    } | fields
    return BindingRecord(**values)


async def test_find_account_maps_the_account_to_a_frozen_record(directory, alice, acme):
    record = await directory.find_account("alice", "acme.sip.test")

    assert record is not None
    assert record.id == alice.pk
    assert record.aor == "alice@acme.sip.test"
    assert record.customer.id == acme.pk
    assert record.customer.name == "Acme"
    assert record.ha1 == {"MD5": alice.ha1_md5, "SHA-256": alice.ha1_sha256}
    assert record.outgoing_dialplan == "out"
    assert record.incoming_dialplan is None
    assert record.ip_allow_list == ("192.0.2.0/24",)
    assert record.max_concurrent_calls == 3
    assert (record.transfer_policy.value, record.transfer_policy.source) == ("c", "account")
    assert record.allows_address("192.0.2.7")
    assert not record.allows_address("198.51.100.1")


async def test_find_account_resolves_domain_aliases_and_refuses_unknowns(directory, alice):
    by_alias = await directory.find_account("alice", "10.0.0.5")
    assert by_alias is not None
    assert by_alias.id == alice.pk
    assert by_alias.domain == "acme.sip.test"
    assert await directory.find_account("mallory", "acme.sip.test") is None
    assert await directory.find_account("alice", "elsewhere.test") is None


@pytest.mark.skipif(
    not os.environ.get("DATABASE_URL", "").startswith("postgres"),
    reason="the plain SQL lookup runs on PostgreSQL only",
)
def test_the_sql_account_lookup_agrees_with_the_orm(alice, acme, domain):
    """``find_account``'s one statement on PostgreSQL gives the record the ORM lookup gives:
    inherited transfer policies, dialplans, an exact domain name before another's alias."""
    incoming = Dialplan.objects.create(customer=acme, name="in", script="x = 1\n")
    inheriting, _ = create_sip_account(
        acme, "bob", password="Sesame-Open-42", domain=domain, incoming_dialplan=incoming
    )
    other = SIPDomain.objects.create(name="10.0.0.5.test", aliases=["acme.sip.test"])
    create_sip_account(acme, "alice", password="Sesame-Open-42", domain=other)
    acme.transfer_default = "p"
    acme.save()

    def through_the_orm(username: str, host: str):
        account = SIPAccount.objects.lookup(username, host)
        return None if account is None else directory_module.account_record(account)

    for username, host in [
        ("alice", "acme.sip.test"),
        ("alice", "10.0.0.5"),
        ("alice", "10.0.0.5.test"),
        ("bob", "acme.sip.test"),
        ("bob", "elsewhere.test"),
        ("mallory", "acme.sip.test"),
    ]:
        assert directory_module.find_account(username, host) == through_the_orm(username, host)
    bob = directory_module.find_account("bob", "acme.sip.test")
    assert (bob.transfer_policy.value, bob.transfer_policy.source) == ("p", "customer")
    assert bob.id == inheriting.pk
    assert bob.incoming_dialplan == "in"


async def test_a_change_saved_elsewhere_is_seen_on_the_next_request(directory, alice, acme):
    assert not (await directory.find_account("alice", "acme.sip.test")).disabled

    def disable_and_suspend() -> None:
        account = SIPAccount.objects.get(pk=alice.pk)
        account.disabled = True
        account.save()
        customer = Customer.objects.get(pk=acme.pk)
        customer.suspended = True
        customer.save()

    await in_db(disable_and_suspend)

    record = await directory.find_account("alice", "acme.sip.test")
    assert record.disabled
    assert record.customer.suspended


async def test_lookups_are_kept_until_a_change_is_committed(directory, alice, monkeypatch):
    queries = counting(monkeypatch, "find_account")

    for _ in range(3):
        assert await directory.find_account("alice", "ACME.sip.test") is not None
    assert queries == ["alice@acme.sip.test"]

    await in_db(Dialplan.objects.create, customer_id=alice.customer_id, name="new", script="")
    await directory.find_account("alice", "acme.sip.test")
    assert len(queries) == 2


async def test_requests_missing_the_cache_together_share_one_query(directory, alice, monkeypatch):
    queries = counting(monkeypatch, "find_account")

    found = await asyncio.gather(
        *(directory.find_account("alice", "acme.sip.test") for _ in range(5))
    )

    assert {record.id for record in found} == {alice.pk}
    assert queries == ["alice@acme.sip.test"]


async def test_a_change_without_signals_counts_once_announced_or_expired(alice, monkeypatch):
    directory = DjangoDirectory(threads=1, cache_seconds=0.3)
    try:
        queries = counting(monkeypatch, "find_account")
        await directory.find_account("alice", "acme.sip.test")
        await in_db(SIPAccount.objects.filter(pk=alice.pk).update, disabled=True)
        assert not (await directory.find_account("alice", "acme.sip.test")).disabled

        await in_db(directory_changed)
        assert (await directory.find_account("alice", "acme.sip.test")).disabled

        await in_db(SIPAccount.objects.filter(pk=alice.pk).update, disabled=False)
        await asyncio.sleep(0.35)
        assert not (await directory.find_account("alice", "acme.sip.test")).disabled
        assert len(queries) == 3
    finally:
        await directory.close()


@pytest.mark.real
async def test_a_change_announced_by_another_process_clears_the_cache(alice, monkeypatch):
    redis_url = os.environ.get("TEST_REDIS_URL", "")
    if not redis_url:
        pytest.skip("TEST_REDIS_URL is not set: no test Redis (make test sets it)")
    layers = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [redis_url]},
        }
    }
    with override_settings(CHANNEL_LAYERS=layers):
        layer = get_channel_layer()
        directory = DjangoDirectory(threads=1)
        try:
            queries = counting(monkeypatch, "find_account")
            directory.watch_changes()
            await asyncio.sleep(0.5)
            await directory.find_account("alice", "acme.sip.test")
            await directory.find_account("alice", "acme.sip.test")
            assert len(queries) == 1

            await layer.group_send(CHANGES_GROUP, CHANGED_MESSAGE)
            async with asyncio.timeout(5):
                while len(queries) == 1:
                    await asyncio.sleep(0.05)
                    await directory.find_account("alice", "acme.sip.test")
        finally:
            await directory.close()
            await layer.close_pools()


class TimingOutLayer:
    """A channel layer whose blocking reads time out as channels_redis's do on redis-py 8
    (socket timeout 5 s, blocking pop 5 s), then deliver one announcement."""

    def __init__(self) -> None:
        self.joined = 0
        self.reads = 0
        self.announce = asyncio.Event()
        self.announced = asyncio.Event()

    async def new_channel(self) -> str:
        return "specific.test!1"

    async def group_add(self, group: str, channel: str) -> None:
        self.joined += 1

    async def receive(self, channel: str) -> dict:
        self.reads += 1
        if self.reads <= 3:
            raise redis.TimeoutError("Timeout reading from 127.0.0.1:6379")
        if self.reads == 4:
            await self.announce.wait()
            self.announced.set()
            return CHANGED_MESSAGE
        await asyncio.Event().wait()
        raise AssertionError("unreachable")


async def test_an_idle_change_feed_timing_out_keeps_the_cache_and_the_subscription(
    alice, monkeypatch, caplog
):
    layer = TimingOutLayer()
    monkeypatch.setattr(directory_module, "get_channel_layer", lambda: layer)
    directory = DjangoDirectory(threads=1)
    try:
        queries = counting(monkeypatch, "find_account")
        directory.watch_changes()
        with caplog.at_level(logging.WARNING, logger="sipplatform.sipworker.directory"):
            async with asyncio.timeout(5):
                while layer.reads < 4:
                    await asyncio.sleep(0.01)
            await directory.find_account("alice", "acme.sip.test")
            await directory.find_account("alice", "acme.sip.test")
            assert len(queries) == 1  # three time-outs later, the cache is still there
            layer.announce.set()
            async with asyncio.timeout(5):
                await layer.announced.wait()
            await asyncio.sleep(0.05)
            await directory.find_account("alice", "acme.sip.test")
    finally:
        await directory.close()

    assert layer.joined == 1
    assert len(queries) == 2  # cleared by the announcement only
    assert "lost the configuration change feed" not in caplog.text


async def test_served_domain_resolves_names_and_aliases_to_the_domain_name(directory, domain):
    assert await directory.served_domain("acme.sip.test") == "acme.sip.test"
    assert await directory.served_domain("ACME.sip.test") == "acme.sip.test"
    assert await directory.served_domain("10.0.0.5") == "acme.sip.test"
    assert await directory.served_domain("example.com") is None


async def test_find_dialplan_returns_only_the_customers_own(directory, acme):
    await in_db(Dialplan.objects.create, customer=acme, name="in", script='sys.Dial("bob@local")\n')
    other = await in_db(create_customer, "Globex")
    await in_db(Dialplan.objects.create, customer=other, name="secret", script="x = 2\n")

    record = await directory.find_dialplan(acme.pk, "in")
    assert record is not None
    assert (record.customer_id, record.name) == (acme.pk, "in")
    assert record.source == 'sys.Dial("bob@local")\n'
    assert await directory.find_dialplan(acme.pk, "secret") is None
    assert await directory.find_dialplan(acme.pk, "missing") is None


async def test_find_provider_decrypts_the_password(directory, acme):
    await in_db(
        create_provider,
        acme,
        "trunk",
        "sip:127.0.0.1:18090",
        password="trunk-Secret-1",
        username="acme",
        auth_username="acme-auth",
        custom_headers="X-Account: 42\nX-Tag: a",
        register=True,
    )

    record = await directory.find_provider(acme.pk, "trunk")
    assert record is not None
    assert record.password == "trunk-Secret-1"
    assert (record.username, record.auth_username) == ("acme", "acme-auth")
    assert record.custom_headers == (("X-Account", "42"), ("X-Tag", "a"))
    assert record.register
    assert await directory.find_provider(acme.pk, "other") is None
    assert await directory.find_provider(acme.pk + 1000, "trunk") is None


async def test_a_provider_whose_password_cannot_be_decrypted_is_refused_with_a_log(
    directory, acme, caplog
):
    provider = await in_db(
        create_provider, acme, "trunk", "sip:127.0.0.1:18090", password="x-Secret-1"
    )
    await in_db(
        Provider.objects.filter(pk=provider.pk).update, password_encrypted="not-a-fernet-token"
    )

    with caplog.at_level(logging.ERROR, logger="sipplatform.sipworker.directory"):
        assert await directory.find_provider(acme.pk, "trunk") is None
    assert "'trunk'" in caplog.text
    assert "cannot be decrypted" in caplog.text


async def test_match_provider_prefers_host_and_port_then_host(directory, acme):
    server = await in_db(create_provider, acme, "server", "sip:127.0.0.1:18090")
    proxied = await in_db(
        create_provider, acme, "proxied", "sip:trunk.test", outbound_proxy="sip:127.0.0.2:18092;lr"
    )
    suspended = await in_db(create_customer, "Suspended Ltd", suspended=True)
    await in_db(create_provider, suspended, "dead", "sip:127.0.0.3:5060")

    assert (await directory.match_provider("127.0.0.1", 18090)).id == server.pk
    assert (await directory.match_provider("127.0.0.2", 18092)).id == proxied.pk
    # A TCP connection comes from an ephemeral port: the host alone still identifies it.
    assert (await directory.match_provider("127.0.0.1", 40000)).id == server.pk
    assert (await directory.match_provider("TRUNK.test", 5060)).id == proxied.pk
    assert await directory.match_provider("127.0.0.3", 5060) is None
    assert await directory.match_provider("127.0.0.9", 5060) is None
    # A bare substring of another address is no match.
    assert await directory.match_provider("127.0.0", 18090) is None


async def test_destination_rules_merge_platform_and_customer_policy(directory, acme):
    await in_db(
        DestinationPolicy.objects.update_or_create,
        customer=None,
        defaults={"denied_prefixes": ["1900"], "allowed_country_codes": ["44"]},
    )
    await in_db(DestinationPolicy.objects.create, customer=acme, denied_prefixes=["4470"])

    rules = await directory.destination_rules(acme.pk)
    assert rules.denied_prefixes == frozenset({"1900", "4470"})
    assert rules.allowed_country_codes == frozenset({"44"})
    assert not rules.judge("+447012345").allowed
    assert not rules.judge("+33123456").allowed
    assert rules.judge("+44123456").allowed


async def test_bindings_are_saved_refreshed_listed_newest_first(directory, alice):
    await directory.save_binding(
        binding(alice.pk, "sip:a@192.0.2.10", NOW + 60), max_bindings=5, now=NOW
    )
    await directory.save_binding(
        binding(alice.pk, "sip:b@192.0.2.11", NOW + 600), max_bindings=5, now=NOW
    )
    await directory.save_binding(
        binding(alice.pk, "sip:a@192.0.2.10", NOW + 3600, cseq=2, user_agent="Phone/1"),
        max_bindings=5,
        now=NOW,
    )

    listed = await directory.bindings(alice.pk, NOW)
    assert [b.contact_uri for b in listed] == ["sip:a@192.0.2.10", "sip:b@192.0.2.11"]
    assert listed[0].expires_at == NOW + 3600
    assert (listed[0].cseq, listed[0].user_agent, listed[0].worker_id) == (2, "Phone/1", "w1")
    assert await in_db(Binding.objects.filter(account=alice).count) == 2
    assert await directory.bindings(alice.pk, NOW + 601) == [listed[0]]


async def test_saving_past_the_limit_evicts_the_oldest_binding(directory, alice):
    for index in range(3):
        await directory.save_binding(
            binding(alice.pk, f"sip:phone{index}@192.0.2.10", NOW + 600), max_bindings=2, now=NOW
        )

    contacts = {b.contact_uri for b in await directory.bindings(alice.pk, NOW)}
    assert contacts == {"sip:phone1@192.0.2.10", "sip:phone2@192.0.2.10"}


async def test_bindings_are_removed_one_or_all(directory, alice):
    for contact in ("sip:a@192.0.2.10", "sip:b@192.0.2.10", "sip:c@192.0.2.10"):
        await directory.save_binding(
            binding(alice.pk, contact, NOW + 600), max_bindings=10, now=NOW
        )

    await directory.remove_binding(alice.pk, "sip:b@192.0.2.10", now=NOW)
    remaining = [b.contact_uri for b in await directory.bindings(alice.pk, NOW)]
    assert sorted(remaining) == ["sip:a@192.0.2.10", "sip:c@192.0.2.10"]
    await directory.remove_all_bindings(alice.pk, now=NOW)
    assert await directory.bindings(alice.pk, NOW) == []


async def test_expire_bindings_deletes_and_returns_only_the_expired(directory, alice):
    await directory.save_binding(
        binding(alice.pk, "sip:old@192.0.2.10", NOW - 1), max_bindings=5, now=NOW
    )
    await directory.save_binding(
        binding(alice.pk, "sip:new@192.0.2.10", NOW + 60), max_bindings=5, now=NOW
    )

    expired = await directory.expire_bindings(NOW)
    assert [(b.account_id, b.contact_uri) for b in expired] == [(alice.pk, "sip:old@192.0.2.10")]
    assert await directory.expire_bindings(NOW) == []
    remaining = await in_db(lambda: list(Binding.objects.values_list("contact_uri", flat=True)))
    assert remaining == ["sip:new@192.0.2.10"]


async def test_providers_to_register_skips_suspended_customers_and_unregistered(directory, acme):
    wanted = await in_db(create_provider, acme, "wanted", "sip:127.0.0.1:18090", register=True)
    await in_db(create_provider, acme, "quiet", "sip:127.0.0.1:18091")
    suspended = await in_db(create_customer, "Suspended Ltd", suspended=True)
    await in_db(create_provider, suspended, "dead", "sip:127.0.0.1:18092", register=True)

    assert [p.id for p in await directory.providers_to_register()] == [wanted.pk]


async def test_provider_registration_state_is_written_for_the_portal(directory, acme):
    provider = await in_db(create_provider, acme, "trunk", "sip:127.0.0.1:18090", register=True)

    await directory.save_provider_registration(
        ProviderRegistrationState(
            provider_id=provider.pk,
            registered=False,
            last_status=403,
            failure_reason="Forbidden",
            next_attempt_at=NOW + 30,
            worker_id="w1",
        )
    )

    state = await in_db(ProviderRegistration.objects.get, provider=provider)
    assert (state.registered, state.last_status, state.failure_reason) == (False, 403, "Forbidden")
    assert state.next_attempt_at.timestamp() == NOW + 30
    assert state.last_attempt_at.timestamp() == NOW
    assert state.expires_at is None
    assert state.worker_id == "w1"


async def test_the_state_of_a_deleted_provider_is_dropped(directory, acme):
    provider = await in_db(create_provider, acme, "trunk", "sip:127.0.0.1:18090", register=True)
    provider_id = provider.pk
    await in_db(provider.delete)

    await directory.save_provider_registration(
        ProviderRegistrationState(provider_id=provider_id, registered=True, last_status=200)
    )
    assert not await in_db(ProviderRegistration.objects.filter(provider_id=provider_id).exists)


async def test_queries_run_off_the_event_loop(directory, alice, monkeypatch):
    loop_thread = threading.get_ident()
    seen: list[int] = []
    real_find_account = directory_module.find_account

    def slow_find_account(username: str, domain: str):
        seen.append(threading.get_ident())
        time.sleep(0.3)
        return real_find_account(username, domain)

    monkeypatch.setattr(directory_module, "find_account", slow_find_account)
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.01)

    ticker = asyncio.create_task(tick())
    record = await directory.find_account("alice", "acme.sip.test")
    ticker.cancel()

    assert record is not None
    assert seen and seen[0] != loop_thread
    assert ticks >= 10


@pytest.mark.real
async def test_a_connection_the_server_dropped_is_reopened(directory, alice):
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL to end a server session (make test sets DATABASE_URL)")

    def backend_pid() -> int:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            return cursor.fetchone()[0]

    def terminate(pids: set[int]) -> None:
        with connection.cursor() as cursor:
            for pid in pids:
                cursor.execute("SELECT pg_terminate_backend(%s)", [pid])

    pids = {await directory._off_loop(backend_pid)() for _ in range(4)}
    await in_db(terminate, pids)

    for _ in range(4):
        assert await directory.find_account("alice", "acme.sip.test") is not None
