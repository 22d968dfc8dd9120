"""How long to wait before re-sending a re-INVITE refused with ``491`` (RFC 3261 §14.1).

The owner of the dialogue's Call-ID (the side that chose it) waits 2.1 to 4 s, the other
side 0 to 2 s, both in units of 10 ms, so two user agents that collided do not collide
again. The random source is injected so tests choose the draw.
"""

from __future__ import annotations

from typing import Protocol

MAX_GLARE_RETRIES = 5
"""After this many ``491`` answers in a row the re-INVITE counts as failed."""


class RandomSource(Protocol):
    def randint(self, a: int, b: int) -> int:
        """A random integer N with a <= N <= b (``random.Random`` fits)."""


def glare_delay(random: RandomSource, *, owns_call_id: bool) -> float:
    """Seconds to wait before the next attempt."""
    ticks = random.randint(210, 400) if owns_call_id else random.randint(0, 200)
    return ticks / 100
