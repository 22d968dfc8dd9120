"""Leases in Redis: a key held by one owner until its time to live runs out.

``SET key value NX PX ttl`` takes a free lease atomically. Renewal and release must only touch
a lease that is still ours (it may have expired and been taken by another worker meanwhile),
so they compare the stored value and act in one Lua script: compare-and-extend and
compare-and-delete. Dialogue ownership and provider registration leases are both built on it.
"""

from __future__ import annotations

from redis.asyncio import Redis

DEFAULT_PREFIX = "sipplatform:cluster"
"""Where the platform's shared cluster state lives in Redis."""

_EXTEND = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


def as_text(raw: bytes | str) -> str:
    """A Redis reply as text, whether or not the client decodes responses."""
    return raw.decode() if isinstance(raw, bytes) else raw


def milliseconds(seconds: float) -> int:
    if seconds <= 0:
        raise ValueError(f"a lease lasts a positive time, not {seconds!r} s")
    return max(1, round(seconds * 1000))


class RedisLeases:
    """Named leases under ``prefix``; a lease's value says who holds it."""

    def __init__(self, client: Redis, *, prefix: str) -> None:
        self.client = client
        self.prefix = prefix
        self._extend = client.register_script(_EXTEND)
        self._release = client.register_script(_RELEASE)

    def key(self, name: str) -> str:
        return f"{self.prefix}:{name}"

    async def acquire(self, name: str, value: str, ttl: float) -> bool:
        """Take the lease if nobody holds it; True when it is now ``value``'s."""
        return bool(await self.client.set(self.key(name), value, nx=True, px=milliseconds(ttl)))

    async def extend(self, name: str, value: str, ttl: float) -> bool:
        """Restart the lease's time to live if ``value`` still holds it; False when lost."""
        return bool(await self._extend(keys=[self.key(name)], args=[value, milliseconds(ttl)]))

    async def release(self, name: str, value: str) -> bool:
        """Give the lease up if ``value`` still holds it; False when it was not ours any more."""
        return bool(await self._release(keys=[self.key(name)], args=[value]))

    async def holder(self, name: str) -> str | None:
        """The value holding the lease now, or None when it is free."""
        raw = await self.client.get(self.key(name))
        return None if raw is None else as_text(raw)
