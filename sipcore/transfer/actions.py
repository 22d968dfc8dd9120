"""What a transfer asks the B2BUA to do, and what the B2BUA tells it back.

Actions are frozen dataclasses the B2BUA executes in order; legs are named by their role in
the transfer (``Leg``), which the B2BUA maps to its own leg objects. Inputs are what
happened since: responses, answers, BYEs. The transfer itself touches no socket and reads no
clock (``sipcore.transfer.process``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sipcore.events import LiveEvent
from sipcore.message import Replaces, Request
from sipcore.transfer.checks import PlaceCallFacts
from sipcore.transfer.replaces import DialogueInfo


class Leg(StrEnum):
    TRANSFEROR = "transferor"
    """The REFER's dialogue: the server and the user agent that sent the REFER."""
    TRANSFEREE = "transferee"
    """The other dialogue of the REFER's call: the party being transferred."""
    CONSULTATION = "consultation"
    """Attended: the transferor's dialogue of the consultation call (the replaced one)."""
    TARGET = "target"
    """The target's dialogue: the consultation call's far end, or the call the transfer
    placed (blind)."""


# actions ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class RespondToRefer:
    """The final response to the REFER."""

    status: int
    reason: str
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class SendNotify:
    """A NOTIFY on the transferor's dialogue; report its answer with ``NotifyAnswered``."""

    status: int
    final: bool
    headers: tuple[tuple[str, str], ...]
    body: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class SendRefer:
    """Pass-through: the server's own REFER on the transferee's dialogue (never the
    transferor's forwarded); report its answer with ``ReferAnswered``."""

    refer_to: str
    referred_by: str
    max_forwards: int


@dataclass(frozen=True, slots=True, kw_only=True)
class LookupDialogue:
    """Find the dialogue ``replaces`` names (``sipcore.transfer.replaces.find_replaced``, or
    the cross-worker map); report it with ``DialogueFound``."""

    replaces: Replaces


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckPlaceCall:
    """Gather ``PlaceCallFacts`` for dialling ``target_user`` with the transferor's owner's
    dialplan and policy; report them with ``PlaceCallChecked``."""

    target_user: str


@dataclass(frozen=True, slots=True, kw_only=True)
class PlaceCall:
    """Run the owner's ``dialplan`` as an outgoing call to ``target_user``. Its INVITE carries
    ``referred_by`` and no session description (RFC 3725 flow I); report the call's progress
    with ``TargetProgress``, ``TargetAnswered`` and ``TargetFailed``. The transferee is not
    touched while the target rings."""

    dialplan: str
    target: str
    target_user: str
    referred_by: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ReInvite:
    """Re-INVITE ``leg`` offering ``sdp``; report the answer with ``ReInviteAnswered``."""

    leg: Leg
    sdp: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class AckTarget:
    """Acknowledge the target's 2xx with ``sdp`` as the answer to its offer (RFC 3725)."""

    sdp: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class Bridge:
    """From now on relay between ``a`` and ``b`` (the B2BUA re-pairs its legs)."""

    a: Leg
    b: Leg


@dataclass(frozen=True, slots=True, kw_only=True)
class Bye:
    """End ``leg``'s confirmed dialogue with BYE, and only that dialogue."""

    leg: Leg


@dataclass(frozen=True, slots=True, kw_only=True)
class Cancel:
    """Give up an unanswered dialogue: CANCEL the target's INVITE, or answer the transferor's
    consultation INVITE with 487. Nothing else of its call ends with it."""

    leg: Leg


@dataclass(frozen=True, slots=True, kw_only=True)
class Restore:
    """The transfer is over without success: the original bridges stand as they were."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Audit:
    """A transfer audit payload for ``EventSink.record_transfer_audit``."""

    payload: dict[str, Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class Publish:
    """A live event for ``EventSink.publish``."""

    event: LiveEvent


@dataclass(frozen=True, slots=True, kw_only=True)
class LogToDialplan:
    """A line for the owner's dialplan log (a configuration error the customer must see)."""

    message: str


Action = (
    RespondToRefer
    | SendNotify
    | SendRefer
    | LookupDialogue
    | CheckPlaceCall
    | PlaceCall
    | ReInvite
    | AckTarget
    | Bridge
    | Bye
    | Cancel
    | Restore
    | Audit
    | Publish
    | LogToDialplan
)


# inputs ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class DialogueFound:
    info: DialogueInfo | None


@dataclass(frozen=True, slots=True, kw_only=True)
class PlaceCallChecked:
    facts: PlaceCallFacts


@dataclass(frozen=True, slots=True, kw_only=True)
class ReferAnswered:
    """The transferee's final response to our pass-through REFER."""

    status: int
    reason: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class NotifyReceived:
    """Pass-through: a NOTIFY the transferee sent on its dialogue (answer it 200 yourself)."""

    request: Request


@dataclass(frozen=True, slots=True, kw_only=True)
class TargetProgress:
    status: int
    reason: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class TargetAnswered:
    """The target answered; ``sdp`` is its offer (blind) or its current session (attended)."""

    sdp: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class TargetFailed:
    """The target's call ended without an answer (busy, no answer, refused, blocked)."""

    status: int
    reason: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class ReInviteAnswered:
    leg: Leg
    status: int
    sdp: bytes = b""


@dataclass(frozen=True, slots=True, kw_only=True)
class NotifyAnswered:
    """The transferor's answer to one of our NOTIFYs (408 when it timed out)."""

    status: int
    final: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class TransferorGone:
    """The REFER's dialogue ended (the transferor's BYE): only that dialogue ends."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TransfereeGone:
    """The transferee's dialogue ended: there is no one left to transfer."""


Input = (
    DialogueFound
    | PlaceCallChecked
    | ReferAnswered
    | NotifyReceived
    | TargetProgress
    | TargetAnswered
    | TargetFailed
    | ReInviteAnswered
    | NotifyAnswered
    | TransferorGone
    | TransfereeGone
)
