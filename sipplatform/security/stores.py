"""Which ``CounterStore`` the platform's processes share.

With ``SIP_SECURITY_REDIS_URL`` (default: ``REDIS_URL``) set, every SIP worker and the admin
use Redis, so the admin lists exactly the bans the workers enforce and a lift reaches them
all within their refresh interval. Without it (the embedded default, ``runplatform``: the
portal and the SIP worker in one process) they share ``EMBEDDED_STORE``, this process's
memory. A ``manage.py sipworker`` run without Redis keeps its bans to itself: the admin of
another process cannot see them, and says so.
"""

from __future__ import annotations

from sipcore.security import CounterStore, MemoryCounterStore
from sipcore.security.redis_store import RedisCounterStore
from sipplatform.security.conf import store_url

EMBEDDED_STORE = MemoryCounterStore()


def counter_store() -> CounterStore:
    """A store for the caller's event loop: a new Redis client each call, or the embedded one.

    Close it (``await store.close()``) when done; closing the embedded store keeps its data.
    """
    url = store_url()
    return RedisCounterStore.from_url(url) if url else EMBEDDED_STORE


def is_shared() -> bool:
    """Whether the bans live in Redis (seen by every process) rather than this process."""
    return bool(store_url())
