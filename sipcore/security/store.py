"""Where failure counters, offence counts and bans live: the ``CounterStore`` protocol.

Every worker of a platform must see the same counters and bans, or an attacker spreading
guesses over the workers behind a load balancer would never reach a threshold; production
uses ``sipcore.security.redis_store.RedisCounterStore``. The embedded default (one process)
uses ``MemoryCounterStore``. The methods are coroutines because the shared store is a network
service; they never block on anything else.

Counters use fixed windows, as Redis ``INCR`` + ``EXPIRE`` on the first hit gives them: the
count starts at the first failure and is forgotten ``window`` seconds later.
"""

from __future__ import annotations

from typing import Protocol

from sipcore.security.bans import Ban, Subject


class CounterStore(Protocol):
    async def count_failure(self, subject: Subject, *, window: float, now: float) -> int:
        """Add one failed authentication for ``subject``; the count in its current window."""
        ...

    async def clear_failures(self, *subjects: Subject) -> None:
        """Forget the failures of ``subjects`` (they proved themselves)."""
        ...

    async def count_offence(self, subject: Subject, *, memory: float, now: float) -> int:
        """Add one ban to ``subject``'s record, kept ``memory`` seconds after the latest; the
        number of bans on record, this one included."""
        ...

    async def save_ban(self, ban: Ban, *, now: float) -> None:
        """Store ``ban`` (replacing any ban of the same subject) until it ends."""
        ...

    async def lift_ban(self, subject: Subject) -> Ban | None:
        """Remove ``subject``'s ban at once; the ban removed, or None if there was none."""
        ...

    async def active_bans(self, *, now: float, limit: int = 10_000) -> list[Ban]:
        """The bans in force at ``now`` (at most ``limit``, those ending last first)."""
        ...

    async def close(self) -> None:
        """Release connections; the store is not used afterwards."""
        ...


class MemoryCounterStore:
    """A ``CounterStore`` in this process's memory: the embedded default, and for tests.

    Bounded: at most ``max_counters`` failure and offence counters and ``max_bans`` bans.
    When full, the counter touched least recently and the ban made earliest are dropped, in
    constant time (dicts keep insertion order), so an attack from very many addresses costs
    neither unbounded memory nor a scan per failure. Times come from the callers' ``now``.
    """

    def __init__(self, *, max_counters: int = 100_000, max_bans: int = 100_000) -> None:
        self.max_counters = max_counters
        self.max_bans = max_bans
        self._counters: dict[str, tuple[int, float]] = {}  # key -> (count, expires at)
        self._bans: dict[Subject, Ban] = {}

    async def count_failure(self, subject: Subject, *, window: float, now: float) -> int:
        return self._count(f"fail:{subject.key}", now, expires=now + window, extend=False)

    async def clear_failures(self, *subjects: Subject) -> None:
        for subject in subjects:
            self._counters.pop(f"fail:{subject.key}", None)

    async def count_offence(self, subject: Subject, *, memory: float, now: float) -> int:
        return self._count(f"offence:{subject.key}", now, expires=now + memory, extend=True)

    async def save_ban(self, ban: Ban, *, now: float) -> None:
        if not ban.active(now):
            return
        self._bans.pop(ban.subject, None)
        if len(self._bans) >= self.max_bans:
            del self._bans[next(iter(self._bans))]
        self._bans[ban.subject] = ban

    async def lift_ban(self, subject: Subject) -> Ban | None:
        return self._bans.pop(subject, None)

    async def active_bans(self, *, now: float, limit: int = 10_000) -> list[Ban]:
        self._drop_expired_bans(now)
        return sorted(self._bans.values(), key=lambda b: b.until, reverse=True)[:limit]

    async def close(self) -> None:
        """Nothing to release; the contents stay (the store may be shared in-process)."""

    def _count(self, key: str, now: float, *, expires: float, extend: bool) -> int:
        count, until = self._counters.pop(key, (0, now))
        if until <= now:
            count, until = 0, expires
        elif extend:
            until = expires
        if len(self._counters) >= self.max_counters:
            del self._counters[next(iter(self._counters))]
        self._counters[key] = (count + 1, until)
        return count + 1

    def _drop_expired_bans(self, now: float) -> None:
        for subject in [s for s, ban in self._bans.items() if not ban.active(now)]:
            del self._bans[subject]
