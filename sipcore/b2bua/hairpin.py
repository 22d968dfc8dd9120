"""Calls the worker places to itself, so a dialled account's incoming dialplan runs.

A dialplan that dials ``user@local`` (or ``user@<served domain>``) reaches an account; when
that account has an incoming dialplan, the leg is an INVITE sent back to this worker, which
takes it as a new call to the account. The INVITE carries a mark, an HMAC of its Call-ID
and From tag under the workers' shared secret: only a marked INVITE is let in without the
caller's credentials and past the loop check that stops our own INVITEs coming back.
Max-Forwards, decremented on every leg, still bounds a dialplan that dials itself.
"""

from __future__ import annotations

import hashlib
import hmac

from sipcore.message import ParseError, Request

HEADER = "X-Sipplatform-Hairpin"


class HairpinMark:
    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def mark(self, invite: Request) -> None:
        """Sign ``invite`` (its Call-ID and From tag are final) as one of ours."""
        invite.headers.set(HEADER, self._token(invite.call_id, invite.from_addr.tag or ""))

    def is_marked(self, request: Request) -> bool:
        """Whether ``request`` carries a valid mark (a forged or stale one does not count)."""
        token = request.headers.get(HEADER)
        if token is None:
            return False
        try:
            expected = self._token(request.call_id, request.from_addr.tag or "")
        except ParseError:
            return False
        return hmac.compare_digest(token.strip(), expected)

    def _token(self, call_id: str, from_tag: str) -> str:
        message = f"hairpin:{call_id}:{from_tag}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()[:32]
