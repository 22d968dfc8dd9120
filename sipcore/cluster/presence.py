"""Worker presence: each live worker refreshes a heartbeat key; the others list who is alive.

A heartbeat is a key with a time to live (Redis's clock decides expiry, so workers' clocks
need not agree) plus the worker's id in a set, so listing needs no key scan. A worker whose
key expired is dead (SIGKILL, lost host) and is pruned from the set by whoever lists next.
"""

from __future__ import annotations

from redis.asyncio import Redis

from sipcore.cluster.leases import DEFAULT_PREFIX, as_text, milliseconds
from sipcore.cluster.records import ClusterError, WorkerInfo


class WorkerPresence:
    def __init__(
        self, client: Redis, me: WorkerInfo, *, ttl: float = 15.0, prefix: str = DEFAULT_PREFIX
    ) -> None:
        self.client = client
        self.me = me
        self.ttl = ttl
        self._members = f"{prefix}:workers"
        self._prefix = f"{prefix}:worker"

    def _key(self, worker_id: str) -> str:
        return f"{self._prefix}:{worker_id}"

    async def beat(self) -> None:
        """Announce this worker alive for another ``ttl`` seconds."""
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.set(self._key(self.me.worker_id), self.me.encode(), px=milliseconds(self.ttl))
            pipe.sadd(self._members, self.me.worker_id)
            await pipe.execute()

    async def leave(self) -> None:
        """Stopping cleanly (SIGTERM): vanish at once instead of after the time to live."""
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.delete(self._key(self.me.worker_id))
            pipe.srem(self._members, self.me.worker_id)
            await pipe.execute()

    async def alive(self) -> list[WorkerInfo]:
        """The workers whose heartbeat has not expired, by id; dead ones are pruned."""
        ids = sorted(as_text(member) for member in await self.client.smembers(self._members))
        if not ids:
            return []
        values = await self.client.mget([self._key(worker_id) for worker_id in ids])
        alive: list[WorkerInfo] = []
        dead: list[str] = []
        for worker_id, raw in zip(ids, values, strict=True):
            if raw is None:
                dead.append(worker_id)
                continue
            try:
                alive.append(WorkerInfo.decode(raw))
            except ClusterError:
                dead.append(worker_id)
        if dead:
            await self.client.srem(self._members, *dead)
        return alive
