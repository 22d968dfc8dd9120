"""Reading a REFER (RFC 3515, 4488, 3891, 3892): what it asks for, or why it is refused.

``read_refer`` never raises: a REFER the platform cannot act on still produces one audit
record, so every raw header value is kept as received and the first problem found becomes
a ``Refusal`` (the final response the REFER gets). Status choices:

* ``400`` for anything malformed or ambiguous: no Refer-To or more than one (RFC 3515
  §2.4.2), a Refer-To, Referred-By, Refer-Sub or Replaces that does not parse, more than one
  Replaces in the Refer-To URI, or a Replaces header on the REFER itself (RFC 3891 §3 allows
  it only on INVITE).
* ``403`` for a well-formed target the platform will not dial: a ``tel:``, ``http:`` or any
  other non-SIP URI, or a ``method`` other than INVITE. RFC 3515 leaves the recipient free to
  refuse with any 4xx-6xx; the request is valid, the platform's policy forbids it, and 403
  is the status RFC 3261 §21.4.4 gives for "understood, but will not be done". ``416`` is
  about the Request-URI, not a header, and ``400`` would tell the transferor its message is
  broken when it is not.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import unquote

from sipcore.message import URI, Address, ParseError, Replaces, Request
from sipcore.message.headers import split_list

SIP_SCHEMES = frozenset({"sip", "sips"})
DEFAULT_MAX_FORWARDS = 70
MISSING_REFER_TO = "(no Refer-To)"
"""What the audit records as the raw Refer-To of a REFER that carried none."""


class TransferKind(StrEnum):
    """The audit record's kinds (TransferAuditRecord.Kind)."""

    BLIND = "blind"
    ATTENDED = "attended"
    SEMI_ATTENDED = "semi_attended"


@dataclass(frozen=True, slots=True, kw_only=True)
class Refusal:
    """A final response refusing a REFER, and the reason recorded and sent with it."""

    status: int
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ReferRequest:
    """One REFER as the transfer code needs it. ``refusal`` is set when it cannot be acted on;
    the parsed fields are then whatever could be read before the problem."""

    call_id: str
    event_id: str
    """The REFER's CSeq number: the ``id`` of its implicit subscription (RFC 3515 §2.4.6)."""
    raw_refer_to: str
    raw_referred_by: str
    raw_replaces: str
    referrer_uri: str
    """The transferor's own URI (the REFER's From), for a Referred-By when none came."""
    refer_to: Address | None = None
    replaces: Replaces | None = None
    referred_by: Address | None = None
    subscribe: bool = True
    """False when the REFER said ``Refer-Sub: false`` (RFC 4488): no NOTIFY is sent."""
    max_forwards: int = DEFAULT_MAX_FORWARDS
    refusal: Refusal | None = None

    @property
    def kind(self) -> TransferKind:
        """Blind or attended as asked (a Refer-To with a Replaces that is refused, several or
        malformed, still asked for an attended transfer); semi-attended is known only once
        the dialogue is found."""
        asked = self.replaces is not None or bool(self.raw_replaces)
        return TransferKind.ATTENDED if asked else TransferKind.BLIND

    @property
    def target(self) -> URI | None:
        """The Refer-To URI without its ``?headers``: what the transfer dials."""
        return None if self.refer_to is None else self.refer_to.uri.without_headers()

    @property
    def target_user(self) -> str:
        """The user part of the target: the destination a dialplan and the policy judge."""
        target = self.target
        return "" if target is None or target.user is None else target.user

    @property
    def referred_by_for_invite(self) -> str:
        """The Referred-By to put on the INVITE the transfer causes (RFC 3892): the REFER's
        own when it had one, else the transferor's URI."""
        return self.raw_referred_by or f"<{self.referrer_uri}>"


def read_refer(request: Request) -> ReferRequest:
    """Everything the transfer code needs from ``request``, or the refusal it must get."""
    headers = request.headers
    raw_refer_to = headers.get_raw("Refer-To")
    raw_referred_by = headers.get_raw("Referred-By")
    try:
        referrer_uri = str(request.from_addr.uri)
    except ParseError:
        referrer_uri = ""
    base = {
        "call_id": request.call_id,
        "event_id": str(request.cseq.seq),
        "raw_refer_to": ", ".join(raw_refer_to) or MISSING_REFER_TO,
        "raw_referred_by": ", ".join(raw_referred_by),
        "raw_replaces": "",
        "referrer_uri": referrer_uri,
    }
    refer_to, refusal = _read_refer_to(raw_refer_to)
    if refer_to is None:
        return ReferRequest(**base, refusal=refusal)
    base["refer_to"] = refer_to
    replaces, raw_replaces, refusal = _read_replaces(refer_to.uri)
    base["raw_replaces"] = raw_replaces
    if refusal is None:
        refusal = _check_target(refer_to.uri)
    if refusal is None and headers.count("Replaces"):
        refusal = Refusal(status=400, reason="Replaces is only allowed on INVITE")
    referred_by, subscribe, max_forwards = None, True, DEFAULT_MAX_FORWARDS
    if refusal is None:
        try:
            if len(raw_referred_by) > 1:
                raise ParseError("more than one Referred-By")
            referred_by = request.referred_by
        except ParseError:
            refusal = Refusal(status=400, reason="Malformed Referred-By")
    if refusal is None:
        try:
            subscribe = request.refer_sub is not False
        except ParseError:
            refusal = Refusal(status=400, reason="Malformed Refer-Sub")
    if refusal is None:
        try:
            found = request.max_forwards
            max_forwards = DEFAULT_MAX_FORWARDS if found is None else found
        except ParseError:
            refusal = Refusal(status=400, reason="Malformed Max-Forwards")
    return ReferRequest(
        **base,
        replaces=replaces,
        referred_by=referred_by,
        subscribe=subscribe,
        max_forwards=max_forwards,
        refusal=refusal,
    )


def _read_refer_to(raw: list[str]) -> tuple[Address | None, Refusal | None]:
    if not raw:
        return None, Refusal(status=400, reason="Missing Refer-To")
    try:
        values = [item for value in raw for item in split_list(value)]
        if len(values) != 1:
            return None, Refusal(status=400, reason="Exactly one Refer-To is allowed")
        return Address.parse(values[0]), None
    except ParseError:
        return None, Refusal(status=400, reason="Malformed Refer-To")


def _read_replaces(uri: URI) -> tuple[Replaces | None, str, Refusal | None]:
    """The Replaces embedded in the Refer-To URI (RFC 3891 §6.1), counted on the raw text
    because the URI's header map keeps only one value per name."""
    _, _, query = str(uri).partition("?")
    values = [
        unquote(value)
        for name, _, value in (item.partition("=") for item in query.split("&") if item)
        if unquote(name).lower() == "replaces"
    ]
    if not values:
        return None, "", None
    raw = values[0]
    if len(values) > 1:
        return None, " & ".join(values), Refusal(status=400, reason="More than one Replaces")
    try:
        return Replaces.parse(raw), raw, None
    except ParseError:
        return None, raw, Refusal(status=400, reason="Malformed Replaces")


def _check_target(uri: URI) -> Refusal | None:
    if uri.scheme.lower() not in SIP_SCHEMES:
        return Refusal(status=403, reason="Only SIP and SIPS transfer targets are allowed")
    method = uri.params.get("method")
    if method is not None and method.upper() != "INVITE":
        return Refusal(status=403, reason="Only INVITE transfer targets are allowed")
    return None
