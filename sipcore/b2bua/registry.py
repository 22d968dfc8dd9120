"""Every dialogue the B2BUA holds, found by (Call-ID, local tag, remote tag).

In-dialogue requests, ACKs and retransmitted 2xx responses are routed to their leg here.
The same map is what transfers (REFER, INVITE with Replaces) will look dialogues up in, so
it names dialogues exactly as RFC 3891 does. INVITEs we sent are also kept by
(Call-ID, From tag) until they end: one that comes back to us is a loop, and a 2xx from a
fork we never saw must still be acknowledged and hung up.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from sipcore.dialog import DialogId

if TYPE_CHECKING:
    from sipcore.b2bua.leg import Leg, OutboundLeg


class DialogueObserver(Protocol):
    """Told of every dialogue added and removed: the cluster's ownership map."""

    def hold(self, call_id: str) -> None: ...

    def drop(self, call_id: str) -> None: ...


class DialogRegistry:
    def __init__(self) -> None:
        self._dialogs: dict[DialogId, Leg] = {}
        self._invites: dict[tuple[str, str], OutboundLeg] = {}
        self.observer: DialogueObserver | None = None

    def __len__(self) -> int:
        return len(self._dialogs)

    def add(self, dialog_id: DialogId, leg: Leg) -> None:
        if dialog_id not in self._dialogs and self.observer is not None:
            self.observer.hold(dialog_id.call_id)
        self._dialogs[dialog_id] = leg

    def remove(self, dialog_id: DialogId) -> None:
        if self._dialogs.pop(dialog_id, None) is not None and self.observer is not None:
            self.observer.drop(dialog_id.call_id)

    def find(self, dialog_id: DialogId) -> Leg | None:
        return self._dialogs.get(dialog_id)

    def add_invite(self, call_id: str, from_tag: str, leg: OutboundLeg) -> None:
        self._invites[(call_id, from_tag)] = leg

    def remove_invite(self, call_id: str, from_tag: str) -> None:
        self._invites.pop((call_id, from_tag), None)

    def find_invite(self, call_id: str, from_tag: str) -> OutboundLeg | None:
        """The leg that sent an INVITE with this Call-ID and From tag, while it lives."""
        return self._invites.get((call_id, from_tag))
