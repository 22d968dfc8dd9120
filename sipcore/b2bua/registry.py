"""Every dialogue the B2BUA holds, found by (Call-ID, local tag, remote tag).

In-dialogue requests, ACKs and retransmitted 2xx responses are routed to their leg here.
The same map is what transfers (REFER, INVITE with Replaces) will look dialogues up in, so
it names dialogues exactly as RFC 3891 does. INVITEs we sent are also kept by
(Call-ID, From tag) until they end: one that comes back to us is a loop, and a 2xx from a
fork we never saw must still be acknowledged and hung up.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sipcore.dialog import DialogId

if TYPE_CHECKING:
    from sipcore.b2bua.leg import Leg, OutboundLeg


class DialogRegistry:
    def __init__(self) -> None:
        self._dialogs: dict[DialogId, Leg] = {}
        self._invites: dict[tuple[str, str], OutboundLeg] = {}

    def __len__(self) -> int:
        return len(self._dialogs)

    def add(self, dialog_id: DialogId, leg: Leg) -> None:
        self._dialogs[dialog_id] = leg

    def remove(self, dialog_id: DialogId) -> None:
        self._dialogs.pop(dialog_id, None)

    def find(self, dialog_id: DialogId) -> Leg | None:
        return self._dialogs.get(dialog_id)

    def add_invite(self, call_id: str, from_tag: str, leg: OutboundLeg) -> None:
        self._invites[(call_id, from_tag)] = leg

    def remove_invite(self, call_id: str, from_tag: str) -> None:
        self._invites.pop((call_id, from_tag), None)

    def find_invite(self, call_id: str, from_tag: str) -> OutboundLeg | None:
        """The leg that sent an INVITE with this Call-ID and From tag, while it lives."""
        return self._invites.get((call_id, from_tag))
