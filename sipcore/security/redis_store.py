"""Redis adapters: the shared ``CounterStore`` and the shared digest ``NonceCounterStore``.

Every worker of a platform points these at the same Redis, so failure counts, bans and
used nonce counts are the same wherever a request lands. Each update is one atomic Lua
script (``INCR`` with its ``PEXPIRE``, a ban's sorted-set entry with its data), so two workers
never see half an update. Keys are namespaced under ``prefix`` (default
``sipplatform:security``), e.g. ``sipplatform:security:fail:source:203.0.113.9``.

Layout: ``{prefix}:fail:<subject>`` and ``{prefix}:offence:<subject>`` are counters with a
TTL; ``{prefix}:bans`` is a sorted set of subject keys scored by the ban's end (Unix time),
``{prefix}:ban-data`` a hash from subject key to the ban as JSON. Ended bans are removed
whenever the list is read.

Both use ``redis.asyncio``: use each on one event loop. ``RedisNonceCounterStore`` implements
``sipcore.auth.NonceCounterStore`` (``DigestServer.decide`` awaits it): one round trip per
authenticated request, with a short timeout, and on any Redis error it answers "cannot
keep", which the protocol defines as a refusal (the client is challenged again with
``stale=true``): replay protection is never skipped because Redis is away.
"""

from __future__ import annotations

import logging
from typing import Any

import redis.asyncio

from sipcore.auth.nonce import MemoryNonceCounterStore
from sipcore.redis_client import pooled_client
from sipcore.redis_pipeline import PipelinedRedis, Script
from sipcore.security.bans import Ban, Subject

log = logging.getLogger(__name__)

DEFAULT_PREFIX = "sipplatform:security"
DEFAULT_NONCE_PREFIX = "sipplatform:nonce"

# KEYS[1] counter; ARGV[1] lifetime in ms; ARGV[2] "1": every hit renews the lifetime.
_COUNT = """
local n = redis.call('INCR', KEYS[1])
if n == 1 or ARGV[2] == '1' then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n
"""

# KEYS[1] bans zset, KEYS[2] ban-data hash; ARGV[1] until, ARGV[2] subject key, ARGV[3] json.
_SAVE_BAN = """
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2])
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
return 1
"""

# KEYS as above; ARGV[1] subject key. Returns the removed ban's JSON or nil.
_LIFT_BAN = """
local data = redis.call('HGET', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
return data
"""

# KEYS as above; ARGV[1] now, ARGV[2] limit. Drops ended bans, returns live ones' JSON,
# latest end first. unpack() is chunked: Lua's stack holds a few thousand values at most.
_ACTIVE_BANS = """
local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
for i = 1, #expired, 500 do
  local last = math.min(i + 499, #expired)
  redis.call('ZREM', KEYS[1], unpack(expired, i, last))
  redis.call('HDEL', KEYS[2], unpack(expired, i, last))
end
local live = redis.call('ZREVRANGEBYSCORE', KEYS[1], '+inf', '(' .. ARGV[1], 'LIMIT', 0, ARGV[2])
local out = {}
for i = 1, #live, 500 do
  local values = redis.call('HMGET', KEYS[2], unpack(live, i, math.min(i + 499, #live)))
  for j = 1, #values do out[#out + 1] = values[j] end
end
return out
"""

# KEYS[1] the nonce's set; ARGV[1] nc, ARGV[2] lifetime ms, ARGV[3] max uses. 1: first use.
_NONCE_USE = """
local added = redis.call('SADD', KEYS[1], ARGV[1])
if added == 0 then return 0 end
local size = redis.call('SCARD', KEYS[1])
if size == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
if size > tonumber(ARGV[3]) then return 0 end
return 1
"""


def _ms(seconds: float) -> int:
    return max(1, int(seconds * 1000))


class RedisCounterStore:
    """``CounterStore`` on Redis (``redis.asyncio``); use it on one event loop.

    Counter windows and offence memory run on Redis's clock (key expiry), so ``now`` is not
    needed for them; bans end at their ``until``, Unix time from the workers' clocks.
    """

    def __init__(self, client: redis.asyncio.Redis, *, prefix: str = DEFAULT_PREFIX) -> None:
        self.client = client
        self.prefix = prefix
        self._bans_key = f"{prefix}:bans"
        self._data_key = f"{prefix}:ban-data"
        self._count = client.register_script(_COUNT)
        self._save = client.register_script(_SAVE_BAN)
        self._lift = client.register_script(_LIFT_BAN)
        self._active = client.register_script(_ACTIVE_BANS)

    @classmethod
    def from_url(
        cls, url: str, *, prefix: str = DEFAULT_PREFIX, timeout: float = 2.0
    ) -> RedisCounterStore:
        """A store with its own connection pool for ``url`` (``redis://host:6379/0``)."""
        return cls(pooled_client(url, timeout=timeout), prefix=prefix)

    async def count_failure(self, subject: Subject, *, window: float, now: float) -> int:
        key = f"{self.prefix}:fail:{subject.key}"
        return int(await self._count(keys=[key], args=[_ms(window), "0"]))

    async def clear_failures(self, *subjects: Subject) -> None:
        if subjects:
            await self.client.delete(*(f"{self.prefix}:fail:{subject.key}" for subject in subjects))

    async def count_offence(self, subject: Subject, *, memory: float, now: float) -> int:
        key = f"{self.prefix}:offence:{subject.key}"
        return int(await self._count(keys=[key], args=[_ms(memory), "1"]))

    async def save_ban(self, ban: Ban, *, now: float) -> None:
        if not ban.active(now):
            return
        keys = [self._bans_key, self._data_key]
        await self._save(keys=keys, args=[repr(ban.until), ban.subject.key, ban.to_json()])

    async def lift_ban(self, subject: Subject) -> Ban | None:
        data = await self._lift(keys=[self._bans_key, self._data_key], args=[subject.key])
        return None if data is None else self._parse(data)

    async def active_bans(self, *, now: float, limit: int = 10_000) -> list[Ban]:
        keys = [self._bans_key, self._data_key]
        values: list[Any] = await self._active(keys=keys, args=[repr(now), limit])
        bans = [self._parse(value) for value in values if value is not None]
        return [ban for ban in bans if ban is not None]

    async def close(self) -> None:
        await self.client.aclose()

    def _parse(self, data: bytes | str) -> Ban | None:
        try:
            return Ban.from_json(data)
        except ValueError:
            log.warning("ignoring an unreadable ban in %s: %r", self._data_key, data[:200])
            return None


class RedisNonceCounterStore:
    """``sipcore.auth.NonceCounterStore`` on Redis: ``SADD`` the nc to the nonce's set, with
    an expiry of ``lifetime`` from the nonce's first use (pass the ``DigestServer``'s
    ``nonce_lifetime + clock_skew``). Same contract as ``MemoryNonceCounterStore``.

    While Redis is unreachable the counts go to this worker's own memory instead: refusing
    every nonce would stop all registrations and calls for as long as Redis is away, whereas
    the fallback only narrows replay protection to one worker for that time.
    """

    def __init__(
        self,
        client: PipelinedRedis,
        *,
        lifetime: float,
        prefix: str = DEFAULT_NONCE_PREFIX,
        max_uses: int = 1024,
    ) -> None:
        self.client = client
        self.lifetime = lifetime
        self.prefix = prefix
        self.max_uses = max_uses
        self._use = Script(_NONCE_USE)
        self._fallback = MemoryNonceCounterStore(lifetime=lifetime, max_uses=max_uses)
        self._unreachable = False

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        lifetime: float,
        prefix: str = DEFAULT_NONCE_PREFIX,
        max_uses: int = 1024,
        timeout: float = 0.5,
    ) -> RedisNonceCounterStore:
        """A store with its own connection to ``url`` (``redis://host:6379/0``), shared by
        every request: one is asked per authenticated request."""
        client = PipelinedRedis(url, timeout=timeout)
        return cls(client, lifetime=lifetime, prefix=prefix, max_uses=max_uses)

    async def check_and_record(self, nonce: str, nc: int) -> bool:
        key = f"{self.prefix}:{nonce}"
        try:
            used = await self.client.run_script(
                self._use, keys=[key], args=[nc, _ms(self.lifetime), self.max_uses]
            )
        except (redis.asyncio.RedisError, OSError) as error:
            if not self._unreachable:
                self._unreachable = True
                log.warning("nonce store unreachable, counting in this worker: %s", error)
            return await self._fallback.check_and_record(nonce, nc)
        if self._unreachable:
            self._unreachable = False
            log.info("nonce store reachable again")
        return bool(used)

    async def close(self) -> None:
        await self.client.aclose()
