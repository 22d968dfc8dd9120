"""Fresh, unguessable identifiers: Via branches, From/To tags and Call-IDs.

They come from the operating system's CSPRNG because a predictable branch or tag lets an
off-path attacker forge CANCELs and in-dialogue requests. A call needs several of them, and
each ``os.urandom`` call is a system call that also gives up the GIL (under load, a worker's
database threads then hold the event loop up), so they are cut from a block of random bytes
read at once, per thread; no byte is ever handed out twice.
"""

from __future__ import annotations

import os
import threading

MAGIC_COOKIE = "z9hG4bK"
_BLOCK = 4096


class _RandomBytes(threading.local):
    def __init__(self) -> None:
        self.block = b""
        self.pos = 0

    def take(self, size: int) -> bytes:
        """``size`` fresh random octets."""
        end = self.pos + size
        if end > len(self.block):
            self.block = os.urandom(max(_BLOCK, size))
            self.pos, end = 0, size
        chunk = self.block[self.pos : end]
        self.pos = end
        return chunk

    def hex(self, size: int) -> str:
        """``size`` fresh random octets as hexadecimal."""
        return self.take(size).hex()

    def discard(self) -> None:
        self.block, self.pos = b"", 0


_random = _RandomBytes()
# A forked child must not hand out the bytes its parent also holds.
os.register_at_fork(after_in_child=_random.discard)


def random_bytes(size: int) -> bytes:
    """``size`` fresh random octets from the CSPRNG, for salts and tokens."""
    return _random.take(size)


def new_branch() -> str:
    """A Via branch that starts with the RFC 3261 magic cookie and is unique in time and space."""
    return MAGIC_COOKIE + _random.hex(12)


def new_tag() -> str:
    """A From or To tag (RFC 3261 §19.3: at least 32 bits of randomness)."""
    return _random.hex(8)


def new_call_id(host: str | None = None) -> str:
    """A globally unique Call-ID, optionally ``random@host``."""
    local = _random.hex(16)
    return f"{local}@{host}" if host else local
