"""Test helpers for the ban store on a real Redis database."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from typing import TypeVar

from sipcore.security.redis_store import RedisCounterStore
from sipcore.testing.redis import flushed_redis

T = TypeVar("T")


def shared_redis_store(settings, url: str) -> Iterator[None]:
    """Point the platform's ban store at ``url``, flushed before and after (skip when down)."""
    with flushed_redis(url):
        settings.SIP_SECURITY_REDIS_URL = url
        yield


async def with_redis_store(url: str, action: Callable[[RedisCounterStore], Awaitable[T]]) -> T:
    """Run ``action`` on a store of its own, as a worker would, and close it."""
    store = RedisCounterStore.from_url(url)
    try:
        return await action(store)
    finally:
        await store.close()
