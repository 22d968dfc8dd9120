"""A per-source token bucket: cheap per packet, bounded in memory.

Each source may send ``burst`` requests at once and ``rate`` per second after that. A bucket
is two floats refilled lazily on use, so a check is a dict lookup and some arithmetic. At
most ``max_sources`` buckets are kept, least recently used evicted first: a flood from many
(spoofed) addresses costs a fixed amount of memory, and an evicted source merely starts
again with a full bucket.
"""

from __future__ import annotations

from collections import OrderedDict


class TokenBucketLimiter:
    __slots__ = ("_buckets", "burst", "max_sources", "rate")

    def __init__(self, *, rate: float, burst: float, max_sources: int = 100_000) -> None:
        if rate <= 0 or burst < 1 or max_sources < 1:
            raise ValueError("rate must be positive, burst and max_sources at least 1")
        self.rate = rate
        self.burst = burst
        self.max_sources = max_sources
        self._buckets: OrderedDict[str, list[float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._buckets)

    def allow(self, source: str, now: float) -> bool:
        """Take one token from ``source``'s bucket; False when it is empty."""
        bucket = self._buckets.get(source)
        if bucket is None:
            if len(self._buckets) >= self.max_sources:
                self._buckets.popitem(last=False)
            self._buckets[source] = [self.burst - 1, now]
            return True
        self._buckets.move_to_end(source)
        tokens, last = bucket
        if now > last:
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            bucket[1] = now
        if tokens < 1:
            bucket[0] = tokens
            return False
        bucket[0] = tokens - 1
        return True

    def forget(self, source: str) -> None:
        self._buckets.pop(source, None)
