"""The bindings cache of ``DjangoDirectory`` across workers: two directories on one database
and one Redis stand for two SIP workers. Whatever one writes, the other sees on its next read;
a restart (or Redis losing its data) loses no binding; an unchanged account costs no query."""

from __future__ import annotations

import os

import pytest
import redis
from django.db import connections

from sipcore.directory import BindingRecord
from sipplatform.customers.services import create_customer
from sipplatform.directory.models import SIPAccount, SIPDomain
from sipplatform.directory.services import create_sip_account
from sipplatform.sipworker import directory as directory_module
from sipplatform.sipworker.directory import BINDINGS_VERSION_KEY, DjangoDirectory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.real]

NOW = 1_800_000_000.0


@pytest.fixture
def redis_url():
    url = os.environ.get("TEST_REDIS_URL", "")
    if not url:
        pytest.skip("TEST_REDIS_URL is not set: no test Redis (make test sets it)")
    client = redis.Redis.from_url(url)
    pattern = BINDINGS_VERSION_KEY.format("*")
    client.delete(*client.keys(pattern) or ["-"])
    yield url
    client.delete(*client.keys(pattern) or ["-"])
    client.close()


@pytest.fixture
def alice() -> SIPAccount:
    acme = create_customer("Acme")
    domain = SIPDomain.objects.create(name="acme.sip.test", customer=acme)
    account, _ = create_sip_account(acme, "alice", password="Sesame-Open-42", domain=domain)
    connections.close_all()
    return account


@pytest.fixture
async def workers(redis_url):
    """Two workers' directories sharing the database and Redis."""
    one = DjangoDirectory(threads=1, clock=lambda: NOW, bindings_redis_url=redis_url)
    two = DjangoDirectory(threads=1, clock=lambda: NOW, bindings_redis_url=redis_url)
    yield one, two
    await one.close()
    await two.close()


def binding(account_id: int, contact: str, expires_at: float = NOW + 600) -> BindingRecord:
    return BindingRecord(
        account_id=account_id,
        contact_uri=contact,
        transport="udp",
        received_host="192.0.2.10",
        received_port=5060,
        expires_at=expires_at,
    )


def contacts(records: list[BindingRecord]) -> list[str]:
    return [record.contact_uri for record in records]


def counting_reads(monkeypatch) -> list[int]:
    reads: list[int] = []
    real = directory_module.all_bindings

    def counted(account_ids: list[int]):
        reads.extend(account_ids)
        return real(account_ids)

    monkeypatch.setattr(directory_module, "all_bindings", counted)
    return reads


async def test_an_unchanged_account_is_read_from_the_database_once(workers, alice, monkeypatch):
    one, _ = workers
    await one.save_binding(binding(alice.pk, "sip:a@192.0.2.10"), max_bindings=5, now=NOW)
    reads = counting_reads(monkeypatch)

    for _ in range(5):
        assert contacts(await one.bindings(alice.pk, NOW)) == ["sip:a@192.0.2.10"]

    assert reads == []  # the write left the fresh rows in the cache


async def test_a_registration_on_one_worker_is_seen_by_the_other_at_once(workers, alice):
    one, two = workers
    assert await two.bindings(alice.pk, NOW) == []  # cached as empty

    await one.save_binding(binding(alice.pk, "sip:a@192.0.2.10"), max_bindings=5, now=NOW)
    assert contacts(await two.bindings(alice.pk, NOW)) == ["sip:a@192.0.2.10"]

    await one.save_binding(
        binding(alice.pk, "sip:b@192.0.2.11", NOW + 900), max_bindings=5, now=NOW
    )
    assert contacts(await two.bindings(alice.pk, NOW)) == ["sip:b@192.0.2.11", "sip:a@192.0.2.10"]

    await two.remove_binding(alice.pk, "sip:b@192.0.2.11", now=NOW)
    assert contacts(await one.bindings(alice.pk, NOW)) == ["sip:a@192.0.2.10"]

    await one.remove_all_bindings(alice.pk, now=NOW)
    assert await two.bindings(alice.pk, NOW) == []


async def test_eviction_and_expiry_on_one_worker_reach_the_other(workers, alice):
    one, two = workers
    await one.save_binding(
        binding(alice.pk, "sip:old@192.0.2.10", NOW + 10), max_bindings=2, now=NOW
    )
    await one.save_binding(
        binding(alice.pk, "sip:mid@192.0.2.10", NOW + 20), max_bindings=2, now=NOW
    )
    assert len(await two.bindings(alice.pk, NOW)) == 2

    await one.save_binding(
        binding(alice.pk, "sip:new@192.0.2.10", NOW + 30), max_bindings=2, now=NOW
    )
    assert contacts(await two.bindings(alice.pk, NOW)) == [
        "sip:new@192.0.2.10",
        "sip:mid@192.0.2.10",
    ]
    # Cached rows past their expiry are not listed, swept or not.
    assert contacts(await two.bindings(alice.pk, NOW + 25)) == ["sip:new@192.0.2.10"]

    expired = await one.expire_bindings(NOW + 25)
    assert contacts(expired) == ["sip:mid@192.0.2.10"]
    assert contacts(await two.bindings(alice.pk, NOW)) == ["sip:new@192.0.2.10"]


async def test_bindings_survive_a_worker_restart_and_redis_losing_its_data(
    redis_url, workers, alice
):
    _, two = workers
    first = DjangoDirectory(threads=1, clock=lambda: NOW, bindings_redis_url=redis_url)
    try:
        await first.save_binding(binding(alice.pk, "sip:a@192.0.2.10"), max_bindings=5, now=NOW)
        assert contacts(await two.bindings(alice.pk, NOW)) == ["sip:a@192.0.2.10"]
    finally:
        await first.close()

    client = redis.Redis.from_url(redis_url)
    client.delete(BINDINGS_VERSION_KEY.format(alice.pk))
    restarted = DjangoDirectory(threads=1, clock=lambda: NOW, bindings_redis_url=redis_url)
    try:
        assert contacts(await restarted.bindings(alice.pk, NOW)) == ["sip:a@192.0.2.10"]
        # Worker two kept rows under the lost version: a change made now still reaches it.
        client.delete(BINDINGS_VERSION_KEY.format(alice.pk))
        await restarted.remove_all_bindings(alice.pk, now=NOW)
        assert await two.bindings(alice.pk, NOW) == []
    finally:
        client.close()
        await restarted.close()


async def test_a_lost_version_key_makes_every_worker_read_again(
    redis_url, workers, alice, monkeypatch
):
    one, two = workers
    await one.save_binding(binding(alice.pk, "sip:a@192.0.2.10"), max_bindings=5, now=NOW)
    await two.bindings(alice.pk, NOW)
    reads = counting_reads(monkeypatch)

    client = redis.Redis.from_url(redis_url)
    try:
        client.delete(BINDINGS_VERSION_KEY.format(alice.pk))
    finally:
        client.close()

    assert contacts(await two.bindings(alice.pk, NOW)) == ["sip:a@192.0.2.10"]
    assert reads == [alice.pk]


async def test_without_redis_bindings_come_from_the_database(alice):
    # Nothing listens on port 1: every version check fails and the database answers.
    one = DjangoDirectory(threads=1, bindings_redis_url="redis://127.0.0.1:1/0")
    two = DjangoDirectory(threads=1, bindings_redis_url="redis://127.0.0.1:1/0")
    try:
        await one.save_binding(binding(alice.pk, "sip:a@192.0.2.10"), max_bindings=5, now=NOW)
        assert contacts(await two.bindings(alice.pk, NOW)) == ["sip:a@192.0.2.10"]
        await one.remove_all_bindings(alice.pk, now=NOW)
        assert await two.bindings(alice.pk, NOW) == []
    finally:
        await one.close()
        await two.close()
