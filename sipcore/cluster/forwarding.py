"""Requests forwarded between workers: which dialogue a request needs, and a signed header.

A request that belongs to a call held by another worker (an in-dialogue request, or an
INVITE whose Replaces names that worker's dialogue) is forwarded to it over SIP. The owner
must tell such a request from one a phone sent: it carries ``X-Sipplatform-Forwarded`` with
the forwarding worker, the address the request originally came from (the owner judges bans,
rate limits and IP allow lists on that, not on the peer worker's address) and a timestamp,
signed with HMAC-SHA256 under a secret all workers share. The signature covers the method,
Request-URI, Call-ID, CSeq, tags and Replaces, so the header cannot be moved to another
request; the front door strips the header from everything it receives from outside. Sans-I/O:
the clock comes in as ``now``.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from sipcore.cluster.records import WORKER_ID, ClusterError
from sipcore.message import ParseError, Request

FORWARDED_HEADER = "X-Sipplatform-Forwarded"
DEFAULT_MAX_AGE = 32.0
"""Seconds a signature stays valid: 64·T1, the life of a transaction it could be part of."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Forwarded:
    """A verified forwarding: who forwarded, and where the request first came from."""

    worker_id: str
    source: str
    """``transport:host:port`` of the original sender, as the forwarding worker saw it."""
    signed_at: int


def dialogue_needed(request: Request) -> str | None:
    """The Call-ID of the existing dialogue ``request`` must be served by, if any.

    An INVITE with Replaces needs the replaced dialogue; any other request with a To tag
    needs its own. A new request (no To tag, no Replaces) can be served by any worker, and
    so can one whose headers do not parse: the worker answers it with the error.
    """
    try:
        if request.method == "INVITE":
            replaces = request.replaces
            if replaces is not None:
                return replaces.call_id
        return request.call_id if request.to_addr.tag else None
    except ParseError:
        return None


class ForwardSigner:
    """Signs requests leaving for a peer worker and verifies those arriving from one."""

    def __init__(self, secret: bytes, *, max_age: float = DEFAULT_MAX_AGE) -> None:
        if len(secret) < 16:
            raise ValueError("the forwarding secret needs at least 16 bytes")
        self._secret = secret
        self.max_age = max_age

    def sign(self, request: Request, *, worker_id: str, source: str, now: float) -> None:
        """Stamp ``request`` (replacing any stamp it carried) as forwarded by ``worker_id``."""
        if not WORKER_ID.fullmatch(worker_id) or any(c in source for c in ";=, \t"):
            raise ClusterError("worker id or source unfit for a forwarding stamp")
        signed_at = int(now)
        signature = self._mac(request, worker_id, source, signed_at)
        request.headers.set(
            FORWARDED_HEADER, f"worker={worker_id};source={source};ts={signed_at};sig={signature}"
        )

    def verify(self, request: Request, *, now: float) -> Forwarded | None:
        """The forwarding ``request`` carries; None when it carries none.

        Raises ClusterError for a stamp that is malformed, repeated, forged, or too old.
        """
        stamps = request.headers.get_all(FORWARDED_HEADER)
        if not stamps:
            return None
        if len(stamps) != 1:
            raise ClusterError("more than one forwarding stamp")
        params = dict(
            item.strip().partition("=")[::2] for item in stamps[0].split(";") if item.strip()
        )
        try:
            worker_id, source, signature = params["worker"], params["source"], params["sig"]
            signed_at = int(params["ts"])
        except (KeyError, ValueError):
            raise ClusterError("malformed forwarding stamp") from None
        if not WORKER_ID.fullmatch(worker_id):
            raise ClusterError("malformed forwarding stamp")
        try:
            expected = self._mac(request, worker_id, source, signed_at)
        except ParseError as error:
            raise ClusterError(f"forwarded request unreadable: {error.reason}") from None
        if not hmac.compare_digest(signature, expected):
            raise ClusterError("forwarding stamp with a bad signature")
        if abs(now - signed_at) > self.max_age:
            raise ClusterError("forwarding stamp too old")
        return Forwarded(worker_id=worker_id, source=source, signed_at=signed_at)

    def _mac(self, request: Request, worker_id: str, source: str, signed_at: int) -> str:
        cseq = request.cseq
        fields = (
            worker_id,
            source,
            str(signed_at),
            request.method,
            str(request.uri),
            request.call_id,
            f"{cseq.seq} {cseq.method}",
            request.from_addr.tag or "",
            request.to_addr.tag or "",
            request.headers.get("Replaces") or "",
        )
        message = "\n".join(fields).encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()
