"""Parsed header values shared between messages: each distinct text is parsed once.

A call's messages repeat the same From, To, Contact, Via and URIs many times over (every
request and response of a dialogue, each copy the B2BUA builds, every re-read after a
header changed), and ``URI``, ``Address`` and ``Via`` are immutable values, so a parse of
the same text can return the same object. Only short texts are kept (a hostile message of
long unique values cannot fill memory), and only successful parses (a malformed value
raises again each time).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import TypeVar

T = TypeVar("T")

MEMO_ENTRIES = 4096
MEMO_MAX_TEXT = 300
"""Longer texts are parsed every time: about 1.5 MB kept at most per kind of value."""


_CACHES: list[Callable[[], None]] = []


def forget_all() -> None:
    """Empty every cache (benchmarks measuring the cost of a first parse)."""
    for clear in _CACHES:
        clear()


def memoized(parse: Callable[..., T]) -> Callable[..., T]:
    """``parse(text, *flags)``, answered from a bounded cache for short ``text``."""
    cached = lru_cache(maxsize=MEMO_ENTRIES)(parse)
    _CACHES.append(cached.cache_clear)

    def lookup(text: str, *flags: object) -> T:
        if len(text) > MEMO_MAX_TEXT:
            return parse(text, *flags)
        return cached(text, *flags)

    return lookup
