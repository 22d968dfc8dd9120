"""The signed stamp on an INVITE one worker sends another to take over one of its dialogues.

An attended transfer whose two calls sit on two workers ends with an inter-worker dialogue:
the worker that accepted the REFER sends the worker holding the consultation call an INVITE
whose Replaces names the transferor's consultation dialogue (RFC 3891 §3) and whose offer is
the transferee's session. The holder must know that this INVITE comes from a peer worker
that already judged the Replaces (existence, authorisation, state) for a REFER it accepted,
and for which customer: ``X-Sipplatform-Takeover`` carries the sending worker, the
transferor's account and customer and a timestamp, signed with HMAC-SHA256 under the
workers' shared secret. The signature covers the Request-URI, Call-ID, CSeq, From tag and
Replaces, so the stamp cannot be moved to another request. It is a different stamp from the
router's ``X-Sipplatform-Forwarded`` (which vouches only for where a phone's request came
from): a phone's own INVITE with Replaces never gets this one. Sans-I/O: ``now`` comes in.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from sipcore.cluster.forwarding import DEFAULT_MAX_AGE
from sipcore.cluster.records import WORKER_ID, ClusterError
from sipcore.message import ParseError, Request

TAKEOVER_HEADER = "X-Sipplatform-Takeover"


@dataclass(frozen=True, slots=True, kw_only=True)
class Takeover:
    """A verified takeover: the peer worker and whose transfer it carries out."""

    worker_id: str
    account_id: int | None
    customer_id: int | None
    signed_at: int


def _id_text(value: int | None) -> str:
    return "-" if value is None else str(value)


def _id_value(text: str) -> int | None:
    if text == "-":
        return None
    if not text.isdigit():
        raise ClusterError("malformed takeover stamp")
    return int(text)


class TakeoverSigner:
    def __init__(self, secret: bytes, *, max_age: float = DEFAULT_MAX_AGE) -> None:
        if len(secret) < 16:
            raise ValueError("the takeover secret needs at least 16 bytes")
        self._secret = secret
        self.max_age = max_age

    def sign(
        self,
        invite: Request,
        *,
        worker_id: str,
        account_id: int | None,
        customer_id: int | None,
        now: float,
    ) -> None:
        """Stamp ``invite`` (its Replaces, Call-ID, CSeq and From tag are final)."""
        if not WORKER_ID.fullmatch(worker_id):
            raise ClusterError("worker id unfit for a takeover stamp")
        signed_at = int(now)
        account, customer = _id_text(account_id), _id_text(customer_id)
        signature = self._mac(invite, worker_id, account, customer, signed_at)
        invite.headers.set(
            TAKEOVER_HEADER,
            f"worker={worker_id};account={account};customer={customer};"
            f"ts={signed_at};sig={signature}",
        )

    def verify(self, invite: Request, *, now: float) -> Takeover | None:
        """The takeover ``invite`` carries; None when it carries no stamp.

        Raises ClusterError for a stamp that is malformed, repeated, forged or too old.
        """
        stamps = invite.headers.get_all(TAKEOVER_HEADER)
        if not stamps:
            return None
        if len(stamps) != 1:
            raise ClusterError("more than one takeover stamp")
        params = dict(
            item.strip().partition("=")[::2] for item in stamps[0].split(";") if item.strip()
        )
        try:
            worker_id, account, customer = params["worker"], params["account"], params["customer"]
            signature, signed_at = params["sig"], int(params["ts"])
        except (KeyError, ValueError):
            raise ClusterError("malformed takeover stamp") from None
        if not WORKER_ID.fullmatch(worker_id):
            raise ClusterError("malformed takeover stamp")
        account_id, customer_id = _id_value(account), _id_value(customer)
        try:
            expected = self._mac(invite, worker_id, account, customer, signed_at)
        except ParseError as error:
            raise ClusterError(f"takeover INVITE unreadable: {error.reason}") from None
        if not hmac.compare_digest(signature, expected):
            raise ClusterError("takeover stamp with a bad signature")
        if abs(now - signed_at) > self.max_age:
            raise ClusterError("takeover stamp too old")
        return Takeover(
            worker_id=worker_id,
            account_id=account_id,
            customer_id=customer_id,
            signed_at=signed_at,
        )

    def _mac(
        self, invite: Request, worker_id: str, account: str, customer: str, signed_at: int
    ) -> str:
        cseq = invite.cseq
        fields = (
            "takeover",
            worker_id,
            account,
            customer,
            str(signed_at),
            invite.method,
            str(invite.uri),
            invite.call_id,
            f"{cseq.seq} {cseq.method}",
            invite.from_addr.tag or "",
            invite.headers.get("Replaces") or "",
        )
        return hmac.new(self._secret, "\n".join(fields).encode(), hashlib.sha256).hexdigest()
