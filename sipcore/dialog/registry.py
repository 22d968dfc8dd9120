"""The dialogues of one endpoint: found by dialogue id, with one timer for all of them.

The TU adds each ``Dialog`` it creates; the endpoint looks dialogues up for
requests and responses that carry both tags, answers a retransmitted 2xx with
the ACK it already sent (§13.2.2.4), and drives every dialogue's 2xx
retransmission from ``next_deadline()`` / ``on_timer(now)``. Terminated
dialogues are forgotten: a request for one then finds nothing, and the TU
answers 481 (§12.2.2).
"""

from __future__ import annotations

from collections.abc import Iterator

from sipcore.dialog.dialog import Dialog, DialogAction, DialogId
from sipcore.errors import LocalProtocolError
from sipcore.message import ParseError, Request, Response


class DialogRegistry:
    """Live dialogues by ``DialogId``."""

    def __init__(self) -> None:
        self._dialogs: dict[DialogId, Dialog] = {}

    def __len__(self) -> int:
        self._sweep()
        return len(self._dialogs)

    def __iter__(self) -> Iterator[Dialog]:
        self._sweep()
        return iter(list(self._dialogs.values()))

    def add(self, dialog: Dialog) -> None:
        """Track ``dialog``; a live dialogue with the same id is a LocalProtocolError."""
        existing = self._dialogs.get(dialog.id)
        if existing is not None and existing is not dialog and not existing.terminated:
            raise LocalProtocolError(f"a live dialogue {dialog.id} already exists")
        self._dialogs[dialog.id] = dialog

    def discard(self, dialog: Dialog) -> None:
        """Forget ``dialog`` (nothing happens if it is not tracked)."""
        if self._dialogs.get(dialog.id) is dialog:
            del self._dialogs[dialog.id]

    def for_request(self, request: Request) -> Dialog | None:
        """The live dialogue an incoming request belongs to (its To tag is ours)."""
        try:
            dialog_id = DialogId.from_incoming_request(request)
        except ParseError:
            return None
        return self._live(dialog_id)

    def for_response(self, response: Response) -> Dialog | None:
        """The live dialogue a response to one of our requests belongs to."""
        try:
            dialog_id = DialogId.from_uac_message(response)
        except ParseError:
            return None
        return self._live(dialog_id)

    def ack_again(self, response: Response) -> Request | None:
        """The ACK to send again for a retransmitted 2xx to an INVITE we already ACKed."""
        if response.status // 100 != 2:
            return None
        try:
            if response.cseq.method != "INVITE":
                return None
            seq = response.cseq.seq
        except ParseError:
            return None
        dialog = self.for_response(response)
        return None if dialog is None else dialog.sent_ack(seq)

    def next_deadline(self) -> float | None:
        """The earliest deadline of any dialogue (2xx retransmission or ACK give-up)."""
        deadlines = (dialog.next_deadline() for dialog in self._dialogs.values())
        return min((d for d in deadlines if d is not None), default=None)

    def on_timer(self, now: float) -> list[tuple[Dialog, DialogAction]]:
        """Fire every dialogue timer due at ``now``; each action with its dialogue."""
        fired: list[tuple[Dialog, DialogAction]] = []
        for dialog in list(self._dialogs.values()):
            deadline = dialog.next_deadline()
            if deadline is not None and deadline <= now:
                fired += [(dialog, action) for action in dialog.on_timer(now)]
        self._sweep()
        return fired

    def _live(self, dialog_id: DialogId) -> Dialog | None:
        dialog = self._dialogs.get(dialog_id)
        if dialog is not None and dialog.terminated:
            del self._dialogs[dialog_id]
            return None
        return dialog

    def _sweep(self) -> None:
        for dialog_id in [key for key, dialog in self._dialogs.items() if dialog.terminated]:
            del self._dialogs[dialog_id]
