"""Matching an attended transfer's Replaces to the server's own dialogues (RFC 3891 §3).

The transferor's consultation call runs through the platform, so the dialogue its Replaces
names is one of ours: the transferor's leg of the consultation call. RFC 3891 §3 compares
the ``to-tag`` with the local tag and the ``from-tag`` with the remote tag of the
recipient's dialogue, which is exactly how ``sipcore.dialog.DialogId`` names a dialogue from
the server's side.

The B2BUA (or the cross-worker ownership map) implements ``DialogueLookup``;
``judge_replaces`` applies the rules to what it found. The order of the checks:

1. nothing found ``481``; found but not created by INVITE ``481`` (RFC 3891 §3);
2. the REFER's own dialogue named as the one to replace ``400`` (a call cannot be
   transferred onto itself);
3. not the transferor's to give away ``403`` (TRANSFER.md: same SIP account, or an account of
   the same customer where the customer allows it). This comes before the state checks so
   that someone who merely knows a dialogue's identifiers learns nothing about its state;
4. already terminated ``603``; confirmed but ``early-only`` ``486`` (RFC 3891 §3);
5. early, but its callees ring on another worker (a semi-attended transfer across workers,
   which cannot take them over) ``501``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from sipcore.message import Replaces
from sipcore.transfer.refer import Refusal


class DialogueState(StrEnum):
    EARLY = "early"
    CONFIRMED = "confirmed"
    TERMINATED = "terminated"


@dataclass(frozen=True, slots=True, kw_only=True)
class DialogueInfo:
    """What the server knows of one of its dialogues, wherever it is held."""

    call_id: str
    local_tag: str
    remote_tag: str
    state: DialogueState
    method: str
    """The method that created the dialogue (``INVITE``, ``SUBSCRIBE``, ``REFER``)."""
    account_id: int | None
    """The SIP account of the user agent on this dialogue (None: a provider's)."""
    customer_id: int | None
    worker_id: str = ""
    """The SIP worker process that holds the dialogue."""
    far_end_sdp: bytes = b""
    """The session description of the party this dialogue is bridged to (the target)."""
    far_end_owned_call_id: bool = True
    """Whether the server chose the Call-ID of the far end's dialogue (RFC 3261 §14.1)."""
    early_takeover: bool = True
    """Whether the callees of an early dialogue can be taken over (semi-attended): not when
    another worker rings them."""


class DialogueLookup(Protocol):
    def describe(self, call_id: str, local_tag: str, remote_tag: str) -> DialogueInfo | None:
        """The dialogue with this Call-ID and these tags as seen from the server, if any
        (terminated dialogues are kept a little while so that 603 can be told from 481)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Transferor:
    """Who sent the REFER, for the authorisation rule."""

    account_id: int | None
    customer_id: int | None
    cross_account_allowed: bool
    """The customer lets its accounts replace each other's dialogues."""
    call_id: str
    local_tag: str
    remote_tag: str
    """The REFER's own dialogue, as seen from the server."""


def find_replaced(replaces: Replaces, lookup: DialogueLookup) -> DialogueInfo | None:
    """Look the named dialogue up with RFC 3891's tag orientation."""
    return lookup.describe(replaces.call_id, replaces.to_tag, replaces.from_tag)


def judge_replaces(
    replaces: Replaces, found: DialogueInfo | None, transferor: Transferor
) -> Refusal | None:
    """Why the dialogue named by ``replaces`` may not be taken over, or None when it may."""
    if found is None:
        return Refusal(status=481, reason="Replaced dialogue does not exist")
    if found.method.upper() != "INVITE":
        return Refusal(status=481, reason="Replaced dialogue is not an INVITE dialogue")
    own = (transferor.call_id, transferor.local_tag, transferor.remote_tag)
    if (found.call_id, found.local_tag, found.remote_tag) == own:
        return Refusal(status=400, reason="Replaces names the REFER's own dialogue")
    if not _authorised(found, transferor):
        return Refusal(status=403, reason="Replaced dialogue belongs to another account")
    if found.state is DialogueState.TERMINATED:
        return Refusal(status=603, reason="Replaced dialogue has ended")
    if found.state is DialogueState.CONFIRMED and replaces.early_only:
        return Refusal(status=486, reason="Replaced dialogue is already answered")
    if found.state is DialogueState.EARLY and not found.early_takeover:
        return Refusal(status=501, reason="Ringing calls on another worker cannot be taken over")
    return None


def _authorised(found: DialogueInfo, transferor: Transferor) -> bool:
    if transferor.account_id is not None and found.account_id == transferor.account_id:
        return True
    return (
        transferor.cross_account_allowed
        and transferor.customer_id is not None
        and found.customer_id == transferor.customer_id
    )
