"""The security gate behind the real front door: Kamailio (``deploy/kamailio/kamailio.cfg``) in
front of two SIP workers on PostgreSQL and Redis, which trust its ``X-Sipplatform-Source``.

Phones sit on their own loopback addresses (127.0.0.2 guesses passwords like ``svcrack``,
127.0.0.3 is an honest phone); Kamailio and the workers are on 127.0.0.1, which is the only
exempt address. Proven: failed authentications through the front door, spread over both
workers, ban the guessing phone's address and never Kamailio's; the banned phone's next
request is refused by a worker (not left unanswered, which Kamailio would take for a dead
worker) and from then on Kamailio drops its requests itself; the honest phone registers and
calls through the same Kamailio, and no worker is taken out of the dispatcher.
"""

from __future__ import annotations

import asyncio
import time

import pytest
import redis

from sipcore.endpoint import Endpoint
from sipcore.security.endpoint import REFUSED_HEADER
from sipcore.tests.phones import FAST_TIMERS, Phone
from sipcore.transport import Peer
from sipplatform.directory.services import default_domain
from sipplatform.security.conf import refresh_interval
from tests.integration.frontdoor import (
    customer_calling_locally,
    flushed_redis_database,
    start_cluster,
)

pytestmark = [pytest.mark.real, pytest.mark.django_db(transaction=True)]

REDIS_DATABASE = 11
PASSWORD = "Sesame-Open-42"
GUESSER, HONEST = "127.0.0.2", "127.0.0.3"
MAX_SOURCE_FAILURES = 4
BANS = "sipplatform:security:bans"


@pytest.fixture
def redis_url(test_redis_url):
    with flushed_redis_database(test_redis_url, REDIS_DATABASE) as url:
        yield url


@pytest.fixture
def domain() -> str:
    customer_calling_locally(("alice", "bob"), PASSWORD)
    return default_domain().name


@pytest.fixture
def front(spawn, tmp_path, redis_url, postgres_database_url, domain):
    cluster = start_cluster(
        spawn,
        tmp_path,
        2,
        postgres_database_url,
        redis_url,
        domain,
        SIP_SECURITY_FRONT_DOORS="127.0.0.1/32",
        SIP_SECURITY_EXEMPT_NETWORKS="127.0.0.1/32",
        SIP_SECURITY_MAX_SOURCE_FAILURES=str(MAX_SOURCE_FAILURES),
    )
    return cluster.door, list(cluster.ports)


async def phone_at(host: str, user: str, password: str, server: Peer, domain: str) -> Phone:
    """A test phone on its own loopback address (a fresh Call-ID for its registrations)."""
    endpoint = Endpoint(FAST_TIMERS)
    local = await endpoint.listen("udp", host, 0)
    phone = Phone(endpoint, local, user, domain, password)
    phone.server = server
    endpoint.on_request = phone._on_request
    return phone


def banned_subjects(redis_url: str) -> list[str]:
    with redis.Redis.from_url(redis_url) as client:
        return sorted(member.decode() for member in client.zrange(BANS, 0, -1))


async def test_guessing_through_the_front_door_bans_the_phone_not_the_front_door(
    front, redis_url, domain
):
    door, worker_ports = front
    server = Peer("udp", "127.0.0.1", door.port)
    honest = await phone_at(HONEST, "alice", PASSWORD, server, domain)
    try:
        statuses = []
        for _ in range(MAX_SOURCE_FAILURES):
            guesser = await phone_at(GUESSER, "bob", "guess-1234", server, domain)
            try:
                statuses.append((await guesser.register()).status)
            finally:
                await guesser.close()
        assert statuses == [403] * MAX_SOURCE_FAILURES
        async with asyncio.timeout(10):
            while banned_subjects(redis_url) != [f"source:{GUESSER}"]:
                await asyncio.sleep(0.1)
        # The worker that banned enforces at once; the other loads the shared bans on its
        # next refresh, and Kamailio may hash the next REGISTER to either.
        await asyncio.sleep(refresh_interval() + 0.5)

        guesser = await phone_at(GUESSER, "bob", PASSWORD, server, domain)
        try:
            refused = await guesser.register()  # the right password, but banned
            assert refused.status == 403 and REFUSED_HEADER not in refused.headers
            assert f"worker refused {GUESSER}" in door.log_text()
            started = time.monotonic()
            silence = await guesser.register()  # dropped by Kamailio itself now
            assert silence.status == 408 and time.monotonic() - started > 1
        finally:
            await guesser.close()

        assert (await honest.register()).status == 200
        bob = await phone_at(HONEST, "bob", PASSWORD, server, domain)
        try:
            assert (await bob.register()).status == 200
            call = await honest.call(f"sip:bob@{domain}")
            assert call.final is not None and call.final.status == 200
            assert (await call.bye()).status == 200
        finally:
            await bob.close()
        flags = door.dispatcher_flags()
        assert all(flags[port] == "AP" for port in worker_ports), flags
        assert "marked down" not in door.log_text()
        assert banned_subjects(redis_url) == [f"source:{GUESSER}"]
    finally:
        await honest.close()
