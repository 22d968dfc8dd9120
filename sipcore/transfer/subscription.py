"""The implicit subscription a REFER creates (RFC 3515 §2.4.4, RFC 4488, RFC 6665, RFC 7647).

``Notifier`` is the server's side of the transferor's subscription: it answers the REFER
(``202 Accepted``, or ``200 OK`` for devices that want RFC 7647 behaviour, with
``Refer-Sub: false`` echoed when the REFER asked for no subscription) and builds each
NOTIFY's headers and ``message/sipfrag`` body. It stops sending once the subscription is
over: after the final NOTIFY, with ``Refer-Sub: false``, or when the transferor's dialogue is
gone (a BYE, or a ``481``/``408`` to a NOTIFY).

For pass-through, ``read_notify`` reads the NOTIFYs the transferee's user agent sends,
tolerating what real phones do: sipfrag lines ending in a bare LF (baresip) and
``Subscription-State: terminated;reason=reason=noresource`` (linphone).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sipcore.message import Request, reason_phrase
from sipcore.transfer.actions import SendNotify

SUBSCRIPTION_SECONDS = 60
SIPFRAG = "message/sipfrag;version=2.0"
_STATUS_LINE = re.compile(rb"\s*SIP/2\.0[ \t]+(\d{3})(?:[ \t]+([^\r\n]*))?")
ACTIVE = f"active;expires={SUBSCRIPTION_SECONDS}"
TERMINATED = "terminated;reason=noresource"
SUBSCRIPTION_GONE = frozenset({408, 481})
"""Answers to a NOTIFY meaning the subscriber or its dialogue no longer exists."""


def accept_response(
    *, subscribe: bool, with_200: bool
) -> tuple[int, str, tuple[tuple[str, str], ...]]:
    """Status, reason and extra headers accepting a REFER."""
    status, reason = (200, "OK") if with_200 else (202, "Accepted")
    headers = () if subscribe else (("Refer-Sub", "false"),)
    return status, reason, headers


def sipfrag(status: int, reason: str | None = None) -> bytes:
    """A ``message/sipfrag`` body holding one status line."""
    return f"SIP/2.0 {status} {reason or reason_phrase(status)}\r\n".encode()


class Notifier:
    """The NOTIFYs of one REFER's implicit subscription."""

    def __init__(self, *, event_id: str, subscribed: bool) -> None:
        self.event_id = event_id
        self.active = subscribed
        self.sent: list[int] = []
        """The sipfrag status of every NOTIFY built, in order (for the audit)."""

    def notify(
        self, status: int, reason: str | None = None, *, final: bool | None = None
    ) -> SendNotify | None:
        """The NOTIFY reporting ``status`` (final when >= 200 unless ``final`` says), or None
        when none may be sent any more."""
        if not self.active:
            return None
        if final is None:
            final = status >= 200
        state = TERMINATED if final else ACTIVE
        if final:
            self.active = False
        self.sent.append(status)
        return SendNotify(
            status=status,
            final=final,
            headers=(
                ("Event", f"refer;id={self.event_id}"),
                ("Subscription-State", state),
                ("Content-Type", SIPFRAG),
            ),
            body=sipfrag(status, reason),
        )

    def subscriber_gone(self) -> None:
        """The transferor's dialogue ended: nothing more is sent."""
        self.active = False

    def answered(self, status: int) -> None:
        """The transferor answered a NOTIFY; 481 or 408 means it no longer listens."""
        if status in SUBSCRIPTION_GONE:
            self.active = False


@dataclass(frozen=True, slots=True, kw_only=True)
class ReceivedNotify:
    """A NOTIFY of the refer package from the transferee, as far as a relay needs it."""

    event_id: str | None
    status: int
    reason: str
    terminated: bool


def parse_sipfrag(body: bytes) -> tuple[int, str] | None:
    """The status and reason of a sipfrag body's status line; None if it has none."""
    match = _STATUS_LINE.match(body)
    if match is None:
        return None
    reason = (match[2] or b"").decode("utf-8", "replace").strip()
    return int(match[1]), reason


def read_notify(request: Request) -> ReceivedNotify | None:
    """The refer-package NOTIFY in ``request``, or None when it is not one we can relay."""
    event = (request.headers.get("Event") or "").strip()
    package, _, params = event.partition(";")
    if package.strip().lower() != "refer":
        return None
    frag = parse_sipfrag(request.body)
    if frag is None:
        return None
    state = (request.headers.get("Subscription-State") or "").partition(";")[0].strip().lower()
    status, reason = frag
    return ReceivedNotify(
        event_id=_param(params, "id"),
        status=status,
        reason=reason or reason_phrase(status),
        terminated=state == "terminated" or status >= 200,
    )


def _param(params: str, name: str) -> str | None:
    for item in params.split(";"):
        key, _, value = item.partition("=")
        if key.strip().lower() == name:
            return value.strip().strip('"') or None
    return None
