"""Waiting for something another thread, process or socket does, with a deadline.

Tests of the sans-I/O layers advance ``now`` instead; these are for the tests that drive real
sockets, processes and databases, where the other side runs when it runs.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


async def eventually(condition: Callable[[], object], timeout: float = 5.0) -> None:
    """Return once ``condition()`` is true, polling on the running loop; ``TimeoutError`` after
    ``timeout`` seconds."""
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)


def wait_until(
    condition: Callable[[], object],
    timeout: float = 10.0,
    *,
    interval: float = 0.1,
    retry_on: tuple[type[Exception], ...] = (),
) -> None:
    """Block until ``condition()`` is true; ``AssertionError`` after ``timeout`` seconds.

    An exception of a ``retry_on`` type counts as "not yet" (a table another thread has locked,
    a port not listening yet).
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if condition():
                return
        except retry_on:
            pass
        time.sleep(interval)
    raise AssertionError(f"still not true after {timeout} s")
