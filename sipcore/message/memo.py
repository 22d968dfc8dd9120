"""Parsed header values shared between messages: each distinct text is parsed once.

A call's messages repeat the same From, To, Contact, Via and URIs many times over (every
request and response of a dialogue, each copy the B2BUA builds, every re-read after a
header changed), and ``URI``, ``Address`` and ``Via`` are immutable values, so a parse of
the same text can return the same object. Only short texts are kept (a hostile message of
long unique values cannot fill memory), and only successful parses (a malformed value
raises again each time).

Two kinds of text repeat differently. A domain's URIs and untagged addresses recur in call
after call and are worth keeping long. A text carrying a dialogue's tag or a transaction's
branch recurs only among the few messages of that dialogue's setup, then never again: kept
as long, such texts would fill the cache with values no later call reads (a fixed few
megabytes that a worker's memory per call showed as its own), so they get a small cache of
their own, enough for the calls being set up at the same moment.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import TypeVar

T = TypeVar("T")

MEMO_ENTRIES = 4096
"""Texts many calls share, per kind of value."""
TRANSIENT_ENTRIES = 512
"""Texts one dialogue or transaction carries, per kind of value (every Via: its branch names
one transaction)."""
MEMO_MAX_TEXT = 300
"""Longer texts are parsed every time: about 1.5 MB kept at most per kind of value."""


_CACHES: list[Callable[[], None]] = []


def forget_all() -> None:
    """Empty every cache (benchmarks measuring the cost of a first parse)."""
    for clear in _CACHES:
        clear()


def memoized(
    parse: Callable[..., T],
    *,
    entries: int = MEMO_ENTRIES,
    transient: Callable[[str], bool] | None = None,
) -> Callable[..., T]:
    """``parse(text, *flags)``, answered from a cache of ``entries`` for short ``text``;
    the texts ``transient`` picks go to a cache of ``TRANSIENT_ENTRIES`` instead."""
    cached = lru_cache(maxsize=entries)(parse)
    _CACHES.append(cached.cache_clear)
    if transient is None:

        def lookup(text: str, *flags: object) -> T:
            if len(text) > MEMO_MAX_TEXT:
                return parse(text, *flags)
            return cached(text, *flags)

        return lookup
    brief = lru_cache(maxsize=TRANSIENT_ENTRIES)(parse)
    _CACHES.append(brief.cache_clear)

    def split_lookup(text: str, *flags: object) -> T:
        if len(text) > MEMO_MAX_TEXT:
            return parse(text, *flags)
        return (brief if transient(text) else cached)(text, *flags)

    return split_lookup
