"""One worker's membership of the cluster: its presence, its dialogues and its router.

``ClusterMember`` is what the worker wires in. The B2BUA reports each dialogue it creates
and ends with ``hold``/``drop`` (plain calls, from anywhere on the event loop); the member
claims and releases the Call-IDs in the ownership map from one background task, in the order
reported (a release can never overtake its claim), and on the same task refreshes its
presence and its entries every ``refresh_interval``. ``leave`` (on SIGTERM, after draining)
removes the worker at once; a worker that dies stops refreshing and its entries expire after
three refresh intervals. Redis being unreachable never stops a call: it is logged, and the
entries are claimed again at the next refresh. A dialogue between two workers (a transfer
across workers) is held by both and claimed by neither (``hold(..., claim=False)``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.exceptions import RedisError

from sipcore.cluster.forwarding import ForwardSigner
from sipcore.cluster.ownership import DialogueOwnership
from sipcore.cluster.presence import WorkerPresence
from sipcore.cluster.providers import ProviderLeases
from sipcore.cluster.records import ClusterError, WorkerInfo
from sipcore.cluster.router import ClusterRouter
from sipcore.endpoint import Endpoint
from sipcore.redis_client import pooled_client

log = logging.getLogger(__name__)

WILDCARDS = frozenset({"0.0.0.0", "::"})
ENTRY_LIFETIMES = 3
"""Entries live this many refresh intervals: one missed refresh does not lose them."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ClusterConfig:
    redis_url: str
    forwarding_secret: bytes
    """Shared by every worker of the platform (derived from its SECRET_KEY)."""
    refresh_interval: float = 5.0
    advertise_host: str = ""
    """The address peers reach this worker at, when it listens on a wildcard address."""

    def worker_info(self, worker_id: str, bound: tuple[str, str, int]) -> WorkerInfo:
        """This worker as its peers see it, from the first address it listens on."""
        transport, host, port = bound
        if host in WILDCARDS and self.advertise_host:
            host = self.advertise_host
        return WorkerInfo(worker_id=worker_id, transport=transport, host=host, port=port)


class ClusterMember:
    def __init__(
        self,
        *,
        client: Redis,
        me: WorkerInfo,
        endpoint: Endpoint,
        secret: bytes,
        refresh_interval: float = 5.0,
        close_client: bool = False,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.client = client
        self.close_client = close_client
        """Whether ``leave`` closes ``client`` (it was made for this member)."""
        self.refresh_interval = refresh_interval
        lifetime = ENTRY_LIFETIMES * refresh_interval
        self.presence = WorkerPresence(client, me, ttl=lifetime)
        self.ownership = DialogueOwnership(client, me, ttl=lifetime)
        self.router = ClusterRouter(
            endpoint=endpoint,
            ownership=self.ownership,
            signer=ForwardSigner(secret),
            holds=self.holds,
            clock=clock,
        )
        self._dialogues: Counter[str] = Counter()
        self._unclaimed: set[str] = set()
        self._changes: asyncio.Queue[tuple[bool, str] | None] = asyncio.Queue()
        """Claims (True) and releases (False) in the order reported; None: stop."""
        self._task: asyncio.Task[None] | None = None

    @classmethod
    def connect(cls, config: ClusterConfig, *, me: WorkerInfo, endpoint: Endpoint) -> ClusterMember:
        """A member on a new Redis client of ``config.redis_url`` (closed by ``leave``)."""
        return cls(
            client=pooled_client(config.redis_url, timeout=2),
            me=me,
            endpoint=endpoint,
            secret=config.forwarding_secret,
            refresh_interval=config.refresh_interval,
            close_client=True,
        )

    def provider_leases(self, renew_interval: float) -> ProviderLeases:
        """Provider registration leases for this worker, renewed every ``renew_interval``."""
        return ProviderLeases(
            self.client,
            self.ownership.me.worker_id,
            renew_interval=renew_interval,
            ttl=ENTRY_LIFETIMES * renew_interval,
        )

    def holds(self, call_id: str) -> bool:
        """Whether a dialogue of ``call_id`` lives in this worker (no Redis needed)."""
        return call_id in self._dialogues

    def hold(self, call_id: str, *, claim: bool = True) -> None:
        """A dialogue of ``call_id`` now lives here: claim the Call-ID for this worker (not
        with ``claim`` False: a dialogue with a peer worker, which both of them hold)."""
        self._dialogues[call_id] += 1
        if not claim:
            self._unclaimed.add(call_id)
        elif self._dialogues[call_id] == 1:
            self._changes.put_nowait((True, call_id))

    def drop(self, call_id: str) -> None:
        """A dialogue of ``call_id`` ended: release the Call-ID once its last one did."""
        if self._dialogues[call_id] > 1:
            self._dialogues[call_id] -= 1
            return
        if self._dialogues.pop(call_id, None) is not None and call_id not in self._unclaimed:
            self._changes.put_nowait((False, call_id))
        self._unclaimed.discard(call_id)

    async def join(self) -> None:
        """Announce this worker and start the background task."""
        try:
            await self.presence.beat()
        except (RedisError, OSError) as error:
            log.warning("joining the cluster: %s (retrying at each refresh)", error)
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def leave(self) -> None:
        """Stop; remove this worker and the dialogues it still holds."""
        if self._task is not None:
            # Not task.cancel(): the Redis client may turn a cancellation inside a command
            # into a connection error, which the task survives. It stops between steps.
            self._changes.put_nowait(None)
            await self._task
            self._task = None
        try:
            await self.ownership.release_all()
            await self.presence.leave()
        except (RedisError, OSError) as error:
            log.warning("leaving the cluster: %s (the entries will expire)", error)
        if self.close_client:
            await self.client.aclose()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        next_refresh = loop.time() + self.refresh_interval
        while True:
            try:
                async with asyncio.timeout_at(next_refresh):
                    change = await self._changes.get()
            except TimeoutError:
                next_refresh = loop.time() + self.refresh_interval
                await self._guarded(self._refresh())
                continue
            if change is None:
                return
            await self._guarded(self._apply(*change))

    async def _apply(self, claim: bool, call_id: str) -> None:
        if not claim:
            await self.ownership.release(call_id)
            return
        owner = await self.ownership.claim(call_id)
        if owner != self.ownership.me:
            log.warning("Call-ID %r is already held by worker %s", call_id[:80], owner.worker_id)

    async def _refresh(self) -> None:
        await self.presence.beat()
        await self.ownership.refresh()
        for call_id in sorted(set(self._dialogues) - self.ownership.held - self._unclaimed):
            await self._apply(True, call_id)  # claims that failed or expired while Redis was away

    async def _guarded(self, step: Awaitable[None]) -> None:
        try:
            await step
        except (RedisError, OSError, ClusterError) as error:
            log.warning("cluster state not updated: %s", error)
