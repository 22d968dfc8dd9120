"""The Redis database the cluster tests share: ``TEST_REDIS_URL`` with database 11, flushed.

``TEST_REDIS_URL`` comes from scripts/test-env.sh; without it, or with Redis down, the tests
skip with the reason (a failure under CI=true).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlsplit, urlunsplit

import pytest
from redis.asyncio import Redis
from redis.exceptions import RedisError

from sipcore.cluster import DialogueOwnership, WorkerInfo
from sipcore.message import Request, new_tag

CLUSTER_TEST_DATABASE = 11


def cluster_redis_url(database: int = CLUSTER_TEST_DATABASE) -> str:
    url = os.environ.get("TEST_REDIS_URL", "")
    if not url:
        pytest.skip("TEST_REDIS_URL is not set: no test Redis (make test sets it when Redis runs)")
    return urlunsplit(urlsplit(url)._replace(path=f"/{database}"))


@asynccontextmanager
async def flushed_redis(database: int = CLUSTER_TEST_DATABASE) -> AsyncIterator[Redis]:
    """A client of the cluster tests' database (or ``database``), empty at the start and at
    the end."""
    url = cluster_redis_url(database)
    client = Redis.from_url(url, socket_connect_timeout=2)
    try:
        await client.flushdb()
    except (RedisError, OSError) as exc:
        await client.aclose()
        pytest.skip(f"Redis at {url} is unreachable: {exc}")
    try:
        yield client
    finally:
        await client.flushdb()
        await client.aclose()


def sip_request(method: str, call_id: str, *, to_tag: str = "", **extra: str) -> Request:
    """A request from alice to bob with ``call_id`` (and a To tag: in a dialogue)."""
    return Request(
        method,
        "sip:bob@example.test",
        [
            ("Max-Forwards", "70"),
            ("From", f"<sip:alice@example.test>;tag={new_tag()}"),
            ("To", "<sip:bob@example.test>" + (f";tag={to_tag}" if to_tag else "")),
            ("Call-ID", call_id),
            ("CSeq", f"1 {method}"),
            *extra.items(),
        ],
    )


PEEK = WorkerInfo(worker_id="observer", transport="udp", host="127.0.0.1", port=9)
"""A worker that only looks at the shared ownership records."""


async def owner_becomes(redis: Redis, call_id: str, worker_id: str | None) -> None:
    """Wait (up to 5 s) until the dialogue ``call_id`` is owned by ``worker_id`` (None: by no
    worker)."""
    view = DialogueOwnership(redis, PEEK)
    async with asyncio.timeout(5):
        while True:
            owner = await view.owner(call_id)
            if (owner.worker_id if owner else None) == worker_id:
                return
            await asyncio.sleep(0.02)
