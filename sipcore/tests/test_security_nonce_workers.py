"""Digest nonce counts shared by two SIP workers through Redis (database 13, flushed around).

Two ``SipWorker``s with the same nonce secret and one ``RedisNonceCounterStore`` each, on the
same Redis: a nonce issued by one worker verifies on the other, and once a nonce count has
been used, a request replaying it (new branch, same credentials, as an eavesdropper would
send it) is refused by both workers, not only by the one that saw it first.
"""

from __future__ import annotations

import asyncio
import socket

import pytest
import redis

from sipcore.auth import DigestClient
from sipcore.events import MemoryEventSink
from sipcore.memory_directory import MemoryDirectory, account, customer
from sipcore.message import Request, Response, new_branch, new_call_id, new_tag, parse_message
from sipcore.security import GateConfig
from sipcore.security.redis_store import RedisNonceCounterStore
from sipcore.testing.redis import flushed_redis, redis_url_for
from sipcore.tests.phones import FAST_TIMERS, hashes
from sipcore.worker import SipWorker, WorkerConfig

pytestmark = pytest.mark.real

HOST = "127.0.0.1"
DOMAIN = "nonce.test"
PREFIX = "test:nonce:workers"


@pytest.fixture
def url():
    with flushed_redis(redis_url_for(13)) as url:
        yield url


class Registrant:
    """alice's REGISTERs from one UDP socket, one Call-ID, to whichever worker is named."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((HOST, 0))
        self.sock.setblocking(False)
        self.port = self.sock.getsockname()[1]
        self.call_id = new_call_id()
        self.tag = new_tag()
        self.cseq = 0

    def close(self) -> None:
        self.sock.close()

    async def register(self, worker_port: int, authorization: str | None = None) -> Response:
        self.cseq += 1
        headers = [
            ("Via", f"SIP/2.0/UDP {HOST}:{self.port};branch={new_branch()};rport"),
            ("From", f"<sip:alice@{DOMAIN}>;tag={self.tag}"),
            ("To", f"<sip:alice@{DOMAIN}>"),
            ("Call-ID", self.call_id),
            ("CSeq", f"{self.cseq} REGISTER"),
            ("Contact", f"<sip:alice@{HOST}:{self.port}>"),
            ("Expires", "60"),
        ]
        if authorization is not None:
            headers.append(("Authorization", authorization))
        request = Request("REGISTER", f"sip:{DOMAIN}", headers)
        loop = asyncio.get_running_loop()
        await loop.sock_sendto(self.sock, request.to_bytes(), (HOST, worker_port))
        async with asyncio.timeout(5):
            while True:
                answer = parse_message(await loop.sock_recv(self.sock, 65535))
                if isinstance(answer, Response) and answer.status >= 200:
                    return answer


def refused(response: Response) -> bool:
    """A replay is answered with a fresh challenge marked stale, and never with 200."""
    challenge = response.headers.get("WWW-Authenticate") or ""
    return response.status == 401 and "stale=true" in challenge.lower()


async def test_a_nonce_from_one_worker_verifies_on_the_other_and_a_replay_is_refused_on_both(
    url,
):
    directory = MemoryDirectory()
    directory.add_domain(DOMAIN)
    directory.add_account(
        account(customer(1), "alice", DOMAIN, hashes("alice", "wonderland", realm=DOMAIN))
    )
    workers: list[SipWorker] = []
    stores: list[RedisNonceCounterStore] = []
    ports: list[int] = []
    phone = Registrant()
    try:
        for name in ("worker-a", "worker-b"):
            store = RedisNonceCounterStore.from_url(url, lifetime=305, prefix=PREFIX)
            stores.append(store)
            worker = SipWorker(
                directory=directory,
                events=MemoryEventSink(),
                config=WorkerConfig(
                    worker_id=name,
                    default_domain=DOMAIN,
                    nonce_secret=b"shared-nonce-secret-for-both-workers",
                    dialplan_pool_size=1,
                    endpoint=FAST_TIMERS,
                    register_providers=False,
                    security_gate=GateConfig(exempt_networks=()),
                ),
                nonce_counters=store,
            )
            workers.append(worker)
            [(_, _, port)] = await worker.start([("udp", HOST, 0)])
            ports.append(port)
        a, b = ports
        client = DigestClient(username="alice", password="wonderland")

        challenge = await phone.register(a)
        assert challenge.status == 401
        issued_by_a = client.authorize(
            challenge.headers.get_all("WWW-Authenticate"),
            method="REGISTER",
            uri=f"sip:{DOMAIN}",
        )
        assert (await phone.register(b, issued_by_a)).status == 200

        assert refused(await phone.register(a, issued_by_a))
        assert refused(await phone.register(b, issued_by_a))

        next_count = client.reauthorize(method="REGISTER", uri=f"sip:{DOMAIN}")
        assert (await phone.register(a, next_count)).status == 200
        assert refused(await phone.register(b, next_count))
        raw = redis.Redis.from_url(url)
        try:
            [key] = raw.keys(f"{PREFIX}:*")
            assert raw.smembers(key) == {b"1", b"2"}
            assert 0 < raw.pttl(key) <= 305_000
        finally:
            raw.close()
    finally:
        phone.close()
        for worker in workers:
            await worker.close()
        for store in stores:
            await store.close()
