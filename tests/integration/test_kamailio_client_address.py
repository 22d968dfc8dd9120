"""An account's IP allow list behind the real front door: Kamailio
(``deploy/kamailio/kamailio.cfg``) in front of two SIP workers on PostgreSQL and Redis, which
trust its ``X-Sipplatform-Source``. Every REGISTER reaches a worker from Kamailio's 127.0.0.1;
the allow list is judged on the phone's own loopback address all the same.

Proven: alice, allowed from 127.0.0.2 only, registers from there and is refused (403) from
127.0.0.3; her registration is still reached through the front door (bob on 127.0.0.3 calls
her and she answers), so only the judgement moved, not the routing.
"""

from __future__ import annotations

import pytest
import redis

from sipcore.transport import Peer
from sipplatform.directory.services import create_sip_account, default_domain
from tests.integration.frontdoor import customer_calling_locally, require_kamailio, start_cluster
from tests.integration.test_kamailio_security import PASSWORD, phone_at

pytestmark = [pytest.mark.real, pytest.mark.django_db(transaction=True)]

ALLOWED, OTHER = "127.0.0.2", "127.0.0.3"


@pytest.fixture
def domain() -> str:
    acme = customer_calling_locally(("bob",), PASSWORD)
    create_sip_account(acme, "alice", password=PASSWORD, ip_allow_list=[f"{ALLOWED}/32"])
    return default_domain().name


@pytest.fixture
def front(spawn, tmp_path, test_redis_url, postgres_database_url, domain):
    require_kamailio()
    with redis.Redis.from_url(test_redis_url) as client:
        client.flushdb()  # no bans or counts left from an earlier run
    return start_cluster(
        spawn,
        tmp_path,
        2,
        postgres_database_url,
        test_redis_url,
        domain,
        SIP_SECURITY_FRONT_DOORS="127.0.0.1/32",
        SIP_SECURITY_EXEMPT_NETWORKS="127.0.0.1/32",
    ).door


async def test_the_allow_list_judges_the_phone_behind_the_front_door_and_routing_is_kept(
    front, domain
):
    server = Peer("udp", "127.0.0.1", front.port)
    outside = await phone_at(OTHER, "alice", PASSWORD, server, domain)
    try:
        assert (await outside.register()).status == 403
    finally:
        await outside.close()
    alice = await phone_at(ALLOWED, "alice", PASSWORD, server, domain)
    bob = await phone_at(OTHER, "bob", PASSWORD, server, domain)
    try:
        assert (await alice.register()).status == 200
        assert (await bob.register()).status == 200
        call = await bob.call(f"sip:alice@{domain}")
        assert call.final is not None and call.final.status == 200, front.log_text()
        assert (await call.bye()).status == 200
    finally:
        await bob.close()
        await alice.close()
