"""Which ``CounterStore`` and digest ``NonceCounterStore`` the platform's processes share.

With ``SIP_SECURITY_REDIS_URL`` (default: ``REDIS_URL``) set, every SIP worker and the admin
use Redis, so the admin lists exactly the bans the workers enforce and a lift reaches them
all within their refresh interval. Without it (the embedded default, ``runplatform``: the
portal and the SIP worker in one process) they share ``EMBEDDED_STORE``, this process's
memory. A ``manage.py sipworker`` run without Redis keeps its bans to itself: the admin of
another process cannot see them, and says so.

The nonce counts of digest authentication (replay protection) follow the same rule: with
Redis every worker records them there, so a request replayed to another worker behind the
front door is refused; without it each worker keeps its own in memory.
"""

from __future__ import annotations

from sipcore.security import CounterStore, MemoryCounterStore
from sipcore.security.redis_store import RedisCounterStore, RedisNonceCounterStore
from sipplatform.security.conf import store_url

EMBEDDED_STORE = MemoryCounterStore()

NONCE_MEMORY = 305.0
"""Seconds a used nonce's counts are kept: the worker's ``DigestServer`` accepts a nonce for
300 s after its issue plus 5 s of clock skew between workers (its defaults)."""


def counter_store() -> CounterStore:
    """A store for the caller's event loop: a new Redis client each call, or the embedded one.

    Close it (``await store.close()``) when done; closing the embedded store keeps its data.
    """
    url = store_url()
    return RedisCounterStore.from_url(url) if url else EMBEDDED_STORE


def nonce_counter_store() -> RedisNonceCounterStore | None:
    """The shared nonce-count store for the caller's event loop (a new Redis client: close it
    with ``await store.close()``), or None when there is no Redis (the worker's own memory)."""
    url = store_url()
    return RedisNonceCounterStore.from_url(url, lifetime=NONCE_MEMORY) if url else None


def is_shared() -> bool:
    """Whether the bans live in Redis (seen by every process) rather than this process."""
    return bool(store_url())
