"""Provider registration leases: exactly one worker registers each provider.

Every worker runs ``maintain`` with the providers that should be registered, once per
``renew_interval``: it extends the leases it holds and takes any free one, and registers only
the providers it holds. When the holder dies its leases expire after ``ttl`` and the next
``maintain`` of another worker takes them, so a provider is registered again within
``failover_bound`` (= ttl + renew_interval) of the death; a worker stopping cleanly releases
its leases so the others take over at their next round. Pick ``renew_interval`` at most a
quarter of the provider registration refresh interval and ``ttl`` about three renewals:
fail-over then happens within one refresh interval, before the provider's binding lapses.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from redis.asyncio import Redis
from redis.exceptions import RedisError

from sipcore.cluster.leases import DEFAULT_PREFIX, RedisLeases

log = logging.getLogger(__name__)


class ProviderLeases:
    def __init__(
        self,
        client: Redis,
        worker_id: str,
        *,
        renew_interval: float = 15.0,
        ttl: float = 45.0,
        prefix: str = DEFAULT_PREFIX,
    ) -> None:
        if not 0 < renew_interval < ttl:
            raise ValueError("a lease must outlive its renewal interval (0 < renew < ttl)")
        self.worker_id = worker_id
        self.renew_interval = renew_interval
        self.ttl = ttl
        self._leases = RedisLeases(client, prefix=f"{prefix}:provider")
        self._held: set[int] = set()

    @property
    def failover_bound(self) -> float:
        """The longest time a dead holder's provider stays unregistered by any worker."""
        return self.ttl + self.renew_interval

    @property
    def held(self) -> frozenset[int]:
        return frozenset(self._held)

    async def maintain(self, provider_ids: Iterable[int]) -> frozenset[int]:
        """One round: keep or take the leases of ``provider_ids``, release the rest.

        Returns the providers this worker must register until the next round.
        """
        wanted = set(provider_ids)
        for provider_id in sorted(self._held - wanted):
            await self._leases.release(str(provider_id), self.worker_id)
        self._held &= wanted
        for provider_id in sorted(wanted):
            if provider_id in self._held:
                kept = await self._leases.extend(str(provider_id), self.worker_id, self.ttl)
            else:
                kept = await self._leases.acquire(str(provider_id), self.worker_id, self.ttl)
            if kept:
                self._held.add(provider_id)
            else:
                self._held.discard(provider_id)
        return self.held

    async def release_all(self) -> None:
        """Stopping cleanly: let the other workers take every provider at their next round.

        Best effort: with Redis unreachable the leases simply expire after ``ttl``.
        """
        try:
            await self.maintain(())
        except (RedisError, OSError) as error:
            log.warning("provider leases not released (they will expire): %s", error)

    async def holder(self, provider_id: int) -> str | None:
        """The id of the worker registering ``provider_id`` now, or None."""
        return await self._leases.holder(str(provider_id))
