"""A one-way flag a coroutine can wait for, costing nothing until somebody waits.

Every call holds a few of these (its caller gone, its end, each leg joining its call) for
its whole life, but almost nobody waits on them: ``asyncio.Event`` allocates its waiter
queue up front (about 0.7 KiB each), which at a thousand calls is megabytes of empty
queues. A ``Flag`` has the same ``is_set``/``set``/``wait`` and makes a future only for a
waiter.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Literal, Protocol


class Signal(Protocol):
    """What waiting on a flag needs (``Flag`` or ``asyncio.Event``)."""

    def is_set(self) -> bool: ...

    async def wait(self) -> Literal[True]: ...


class Flag:
    __slots__ = ("_set", "_waiters")

    def __init__(self) -> None:
        self._set = False
        self._waiters: list[asyncio.Future[None]] | None = None

    def is_set(self) -> bool:
        return self._set

    def set(self) -> None:
        """Raise the flag (once; later calls do nothing) and wake every waiter."""
        if self._set:
            return
        self._set = True
        waiters, self._waiters = self._waiters, None
        for waiter in waiters or ():
            if not waiter.done():
                waiter.set_result(None)

    async def wait(self) -> Literal[True]:
        if not self._set:
            waiter = asyncio.get_running_loop().create_future()
            if self._waiters is None:
                self._waiters = []
            self._waiters.append(waiter)
            try:
                await waiter
            finally:
                # A cancelled waiter must not stay queued until the flag is raised.
                if self._waiters is not None:
                    with contextlib.suppress(ValueError):
                        self._waiters.remove(waiter)
        return True
