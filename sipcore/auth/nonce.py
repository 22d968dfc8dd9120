"""Stateless nonces any worker can verify, and the per-nonce ``nc`` replay record.

A nonce is ``base64url(version | issued-at | salt | mac)`` where ``mac`` is an
HMAC-SHA256 over the first three fields and the realm, keyed with a secret all
workers share. Issuing a challenge therefore writes nothing anywhere, and a
nonce minted for one realm, altered, or signed with another secret fails to
verify. ``issued-at`` is wall-clock milliseconds: ``now`` must come from a
clock all workers agree on (``time.time()``), not from ``loop.time()``.

Replay protection is the only state: a ``NonceCounterStore`` remembers which
``nc`` values each nonce has been used with, and only for as long as the
nonce lives. The protocol is one coroutine method so a shared store can be
reached without blocking the event loop, and small: in Redis
(``sipcore.security.redis_store``) it is ``SADD nonce nc`` answering 1, with
an ``EXPIRE`` of the nonce lifetime. Being a coroutine needs no I/O library
here: the in-process store never suspends.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from sipcore.message.ids import random_bytes

_VERSION = 1
_SALT_BYTES = 15
_MAC_BYTES = 24
_RAW_BYTES = 1 + 8 + _SALT_BYTES + _MAC_BYTES  # a multiple of 3: base64url needs no padding
_NONCE = re.compile(rf"[A-Za-z0-9_-]{{{_RAW_BYTES * 4 // 3}}}")


@dataclass(frozen=True, slots=True)
class VerifiedNonce:
    """A nonce whose signature checked out: when it was issued and which secret signed it."""

    issued_at: float
    secret: bytes


class NonceSigner:
    """Mints and verifies HMAC-signed nonces; ``old_secrets`` still verify during a key rotation."""

    def __init__(self, secret: bytes, *, old_secrets: Sequence[bytes] = ()) -> None:
        if len(secret) < 16:
            raise ValueError("the nonce secret must be at least 16 bytes")
        self.secret = secret
        self._verifying = (secret, *old_secrets)

    def mint(self, realm: str, *, now: float) -> str:
        """A fresh nonce for ``realm``, issued at ``now`` (Unix seconds)."""
        body = bytes([_VERSION]) + int(now * 1000).to_bytes(8, "big") + random_bytes(_SALT_BYTES)
        mac = _mac(self.secret, body, realm)
        return base64.urlsafe_b64encode(body + mac).decode("ascii")

    def verify(self, nonce: str, realm: str) -> VerifiedNonce | None:
        """The nonce's issue time if one of our secrets signed it for ``realm``, else None."""
        if _NONCE.fullmatch(nonce) is None:
            return None
        raw = base64.urlsafe_b64decode(nonce)
        body, mac = raw[:-_MAC_BYTES], raw[-_MAC_BYTES:]
        if body[0] != _VERSION:
            return None
        for secret in self._verifying:
            if hmac.compare_digest(mac, _mac(secret, body, realm)):
                return VerifiedNonce(int.from_bytes(body[1:9], "big") / 1000, secret)
        return None


def _mac(secret: bytes, body: bytes, realm: str) -> bytes:
    return hmac.new(secret, body + realm.encode(), hashlib.sha256).digest()[:_MAC_BYTES]


class NonceCounterStore(Protocol):
    """Remembers the ``nc`` values used with each nonce, so a replayed request is refused."""

    async def check_and_record(self, nonce: str, nc: int) -> bool:
        """Record ``nc`` for ``nonce``; False if already used (a replay) or it cannot be kept."""
        ...


class MemoryNonceCounterStore:
    """A bounded in-process ``NonceCounterStore`` for a single worker and for tests.

    Each nonce is forgotten ``lifetime`` seconds after its first use, by which
    time the server refuses it as expired anyway, so forgetting is safe. When
    more than ``max_nonces`` are live, the oldest is dropped early; size it
    above the number of nonces a lifetime sees. A nonce that reaches
    ``max_uses`` is refused, which makes the client fetch a fresh one.
    """

    def __init__(
        self,
        *,
        lifetime: float,
        max_nonces: int = 100_000,
        max_uses: int = 1024,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.lifetime = lifetime
        self.max_nonces = max_nonces
        self.max_uses = max_uses
        self._clock = clock
        self._seen: OrderedDict[str, tuple[float, set[int]]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._seen)

    async def check_and_record(self, nonce: str, nc: int) -> bool:
        now = self._clock()
        self._expire(now)
        entry = self._seen.get(nonce)
        if entry is None:
            while len(self._seen) >= self.max_nonces:
                self._seen.popitem(last=False)
            entry = self._seen[nonce] = (now, set())
        used = entry[1]
        if nc in used or len(used) >= self.max_uses:
            return False
        used.add(nc)
        return True

    def _expire(self, now: float) -> None:
        while self._seen:
            first_used, _ = next(iter(self._seen.values()))
            if now - first_used < self.lifetime:
                return
            self._seen.popitem(last=False)
