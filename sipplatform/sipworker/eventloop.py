"""How the SIP worker's processes run their event loop: on uvloop when it is installed.

uvloop roughly halves the cost of each datagram and timer in the loop; plain asyncio works
the same, only slower. Free of Django, so the benchmark's load generators use it too.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def runner() -> Callable[[Coroutine[Any, Any, T]], T]:
    """``uvloop.run`` when uvloop is installed, else ``asyncio.run``."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run
    return uvloop.run
