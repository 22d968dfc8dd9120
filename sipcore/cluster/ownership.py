"""The dialogue-ownership map: which worker holds which call, visible to every worker.

A worker's calls are the only state the others cannot see; this map is how they find it. Each
dialogue is keyed by its Call-ID: every dialogue of one Call-ID (forks included) is created by
the worker that received or sent that INVITE, so the Call-ID alone names the owner, and it is
what both an in-dialogue request and a Replaces header carry. The entry is a lease holding the
owner's ``WorkerInfo``: claimed when the call starts, refreshed while it lives, removed at
hangup, and gone by itself a time-to-live after a worker died with its calls.
"""

from __future__ import annotations

from collections.abc import Iterable

from redis.asyncio import Redis

from sipcore.cluster.leases import DEFAULT_PREFIX, RedisLeases
from sipcore.cluster.records import ClusterError, WorkerInfo


class DialogueOwnership:
    """This worker's view of the map: claims, refreshes and releases its own entries."""

    def __init__(
        self, client: Redis, me: WorkerInfo, *, ttl: float = 120.0, prefix: str = DEFAULT_PREFIX
    ) -> None:
        self.me = me
        self.ttl = ttl
        self._leases = RedisLeases(client, prefix=f"{prefix}:dialogue")
        self._value = me.encode()
        self._held: set[str] = set()

    @property
    def held(self) -> frozenset[str]:
        """The Call-IDs this worker holds."""
        return frozenset(self._held)

    async def claim(self, call_id: str) -> WorkerInfo:
        """Record this worker as the owner of ``call_id``; returns the owner afterwards.

        When another worker already holds the Call-ID, that worker is returned and nothing
        changes: the caller serves the request there (or refuses it), never both.
        """
        if call_id in self._held or await self._leases.acquire(call_id, self._value, self.ttl):
            self._held.add(call_id)
            return self.me
        owner = await self.owner(call_id)
        if owner is None:  # released between our attempt and the read: try once more
            if await self._leases.acquire(call_id, self._value, self.ttl):
                self._held.add(call_id)
                return self.me
            owner = await self.owner(call_id)
        if owner is None:
            raise ClusterError(f"dialogue {call_id[:80]!r} changes hands too fast to claim")
        return owner

    async def refresh(self) -> list[str]:
        """Extend every held entry; returns the Call-IDs lost (expired, or taken meanwhile)."""
        lost = [
            call_id
            for call_id in sorted(self._held)
            if not await self._leases.extend(call_id, self._value, self.ttl)
        ]
        self._held.difference_update(lost)
        return lost

    async def release(self, call_id: str) -> None:
        """The call is over: remove its entry if it is still ours."""
        self._held.discard(call_id)
        await self._leases.release(call_id, self._value)

    async def release_all(self, call_ids: Iterable[str] | None = None) -> None:
        for call_id in list(self._held if call_ids is None else call_ids):
            await self.release(call_id)

    async def owner(self, call_id: str) -> WorkerInfo | None:
        """The worker holding ``call_id``, or None when no live worker does.

        Raises ClusterError when the stored entry is not a worker record.
        """
        raw = await self._leases.holder(call_id)
        return None if raw is None else WorkerInfo.decode(raw)
