"""Every dialogue the B2BUA holds, found by (Call-ID, local tag, remote tag).

In-dialogue requests, ACKs and retransmitted 2xx responses are routed to their leg here.
Transfers look dialogues up here too (``describe``, the ``DialogueLookup`` of
``sipcore.transfer.replaces``), so it names dialogues exactly as RFC 3891 does; a dialogue
that ended is remembered for ``ENDED_MEMORY`` seconds, so a Replaces naming it is told
``603`` (terminated) rather than ``481`` (unknown). INVITEs we sent are also kept by
(Call-ID, From tag) until they end: one that comes back to us is a loop, and a 2xx from a
fork we never saw must still be acknowledged and hung up.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Protocol

from sipcore.dialog import DialogId
from sipcore.transfer.replaces import DialogueInfo, DialogueState

if TYPE_CHECKING:
    from sipcore.b2bua.leg import Leg, OutboundLeg

ENDED_MEMORY = 32.0
"""How long an ended dialogue is remembered: 64·T1 with the default T1, the time RFC 3261
keeps a dialogue's transactions around, and ample for a REFER racing the BYE."""


class DialogueObserver(Protocol):
    """Told of every dialogue added and removed: the cluster's ownership map."""

    def hold(self, call_id: str, *, claim: bool = True) -> None:
        """A dialogue of ``call_id`` lives here; ``claim``: publish it in the map."""

    def drop(self, call_id: str) -> None: ...


class DialogRegistry:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._dialogs: dict[DialogId, Leg] = {}
        self._invites: dict[tuple[str, str], OutboundLeg] = {}
        self._ended: dict[DialogId, tuple[float, DialogueInfo]] = {}
        self._expiry: deque[tuple[float, DialogId]] = deque()
        """``_ended`` in the order it expires: every entry lives ``ENDED_MEMORY`` on a
        monotonic clock, so the oldest is always in front and expiry costs O(1) per entry."""
        self._clock = clock
        self.observer: DialogueObserver | None = None
        self.between_workers: set[str] = set()
        """Call-IDs of dialogues between two of the platform's workers (a transfer across
        workers): both ends hold them, so they are kept out of the ownership map."""

    def __len__(self) -> int:
        return len(self._dialogs)

    def add(self, dialog_id: DialogId, leg: Leg) -> None:
        if dialog_id not in self._dialogs and self.observer is not None:
            call_id = dialog_id.call_id
            self.observer.hold(call_id, claim=call_id not in self.between_workers)
        self._dialogs[dialog_id] = leg
        self._ended.pop(dialog_id, None)

    def remove(self, dialog_id: DialogId) -> None:
        leg = self._dialogs.pop(dialog_id, None)
        if leg is None:
            return
        if self.observer is not None:
            self.observer.drop(dialog_id.call_id)
        self.between_workers.discard(dialog_id.call_id)
        info = self._describe(leg)
        if info is not None:
            now = self._clock()
            self._forget_ended(now)
            ended = replace(info, state=DialogueState.TERMINATED)
            until = now + ENDED_MEMORY
            self._ended[dialog_id] = (until, ended)
            self._expiry.append((until, dialog_id))

    def find(self, dialog_id: DialogId) -> Leg | None:
        return self._dialogs.get(dialog_id)

    def describe(self, call_id: str, local_tag: str, remote_tag: str) -> DialogueInfo | None:
        """The dialogue with these identifiers from our side: one we hold, or one that ended
        less than ``ENDED_MEMORY`` seconds ago (as terminated)."""
        dialog_id = DialogId(call_id, local_tag, remote_tag)
        leg = self._dialogs.get(dialog_id)
        if leg is not None:
            return self._describe(leg)
        self._forget_ended(self._clock())
        ended = self._ended.get(dialog_id)
        return None if ended is None else ended[1]

    def add_invite(self, call_id: str, from_tag: str, leg: OutboundLeg) -> None:
        self._invites[(call_id, from_tag)] = leg

    def remove_invite(self, call_id: str, from_tag: str) -> None:
        self._invites.pop((call_id, from_tag), None)

    def find_invite(self, call_id: str, from_tag: str) -> OutboundLeg | None:
        """The leg that sent an INVITE with this Call-ID and From tag, while it lives."""
        return self._invites.get((call_id, from_tag))

    @staticmethod
    def _describe(leg: Leg) -> DialogueInfo | None:
        """What the leg's call says of it; a leg no call owns yet (still being dialled for a
        transfer) is nobody's to replace."""
        return None if leg.owner is None else leg.owner.describe(leg)

    def _forget_ended(self, now: float) -> None:
        expiry, ended = self._expiry, self._ended
        while expiry and expiry[0][0] <= now:
            until, dialog_id = expiry.popleft()
            # The dialogue may have come back (``add``) and ended again since: only the
            # entry this deadline belongs to goes.
            entry = ended.get(dialog_id)
            if entry is not None and entry[0] == until:
                del ended[dialog_id]
