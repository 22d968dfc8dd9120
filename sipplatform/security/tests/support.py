"""Test helpers for the ban store on a real Redis database."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from typing import TypeVar

import pytest
import redis

from sipcore.security.redis_store import RedisCounterStore

T = TypeVar("T")


def shared_redis_store(settings, url: str) -> Iterator[None]:
    """Point the platform's ban store at ``url``, flushed before and after (skip when down)."""
    client = redis.Redis.from_url(url, socket_connect_timeout=2)
    try:
        client.flushdb()
    except redis.RedisError as error:
        client.close()
        pytest.skip(f"Redis at {url} is unreachable: {error}")
    settings.SIP_SECURITY_REDIS_URL = url
    yield
    client.flushdb()
    client.close()


async def with_redis_store(url: str, action: Callable[[RedisCounterStore], Awaitable[T]]) -> T:
    """Run ``action`` on a store of its own, as a worker would, and close it."""
    store = RedisCounterStore.from_url(url)
    try:
        return await action(store)
    finally:
        await store.close()
