"""The platform's SIP worker records digest nonce counts in the shared Redis when there is
one (so a replay to another worker is refused), and in its own memory when there is not."""

from __future__ import annotations

import asyncio

import pytest

from sipcore.auth import DigestServer, MemoryNonceCounterStore
from sipcore.security.redis_store import RedisNonceCounterStore
from sipcore.tests.test_security_redis import redis_url
from sipplatform.envconfig import ListenAddress
from sipplatform.security.stores import NONCE_MEMORY, nonce_counter_store
from sipplatform.sipworker import runtime

pytestmark = pytest.mark.django_db(transaction=True)


def test_nonce_counts_are_kept_as_long_as_the_workers_digest_accepts_a_nonce():
    server = DigestServer(secret=b"s" * 32)
    assert server.nonce_lifetime + server.clock_skew == NONCE_MEMORY


async def run_and_capture(monkeypatch) -> runtime.SipWorker:
    """Start ``run_worker`` as ``sipworker`` does, and hand back the SipWorker it built."""
    built: list[runtime.SipWorker] = []

    class Capturing(runtime.SipWorker):
        def __init__(self, **kwargs) -> None:
            super().__init__(**kwargs)
            built.append(self)

    monkeypatch.setattr(runtime, "SipWorker", Capturing)
    stop = asyncio.Event()
    started: asyncio.Future[object] = asyncio.Future()
    task = asyncio.ensure_future(
        runtime.run_worker(
            [ListenAddress(transport="udp", host="127.0.0.1", port=0)],
            stop,
            config=runtime.worker_config(worker_id="nonce-wiring", drain_grace=0),
            on_started=started.set_result,
        )
    )
    try:
        await asyncio.wait_for(started, 10)
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
    [worker] = built
    return worker


@pytest.mark.real
async def test_with_redis_the_worker_records_nonce_counts_there(settings, monkeypatch):
    settings.SIP_SECURITY_REDIS_URL = redis_url()
    worker = await run_and_capture(monkeypatch)
    store = worker.digest._counters
    assert isinstance(store, RedisNonceCounterStore)
    assert store.lifetime == NONCE_MEMORY


async def test_without_redis_each_worker_keeps_its_own(settings, monkeypatch):
    settings.SIP_SECURITY_REDIS_URL = ""
    assert nonce_counter_store() is None
    worker = await run_and_capture(monkeypatch)
    assert isinstance(worker.digest._counters, MemoryNonceCounterStore)
