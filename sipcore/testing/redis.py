"""The test Redis: ``TEST_REDIS_URL`` (set by ``scripts/test-env.sh``) with a database of the
suite's own, emptied before and after each test that uses it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis


def redis_url_for(database: int) -> str:
    """The test Redis, on ``database``."""
    base = urlsplit(os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15"))
    return urlunsplit(base._replace(path=f"/{database}"))


@contextmanager
def flushed_redis(url: str) -> Iterator[str]:
    """``url``'s Redis database, emptied before and after; the test is skipped when Redis
    does not answer (which CI counts as a failure)."""
    client = redis.Redis.from_url(url, socket_connect_timeout=2)
    try:
        client.flushdb()
    except redis.RedisError as error:
        client.close()
        pytest.skip(f"Redis at {url} is unreachable: {error}")
    try:
        yield url
    finally:
        client.flushdb()
        client.close()
