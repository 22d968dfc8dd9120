"""SIP dialogues (RFC 3261 §12-§15), sans-I/O with an injected clock.

API: ``Dialog.uac(request, response)`` / ``Dialog.uas(request, response)`` create a
dialogue from a 1xx (early) or 2xx (confirmed) carrying a To tag;
``create_request(method)``, ``create_ack(invite_seq)``, ``receive_request(request, now)``,
``receive_response(response)``, ``on_response_sent(request, response, now)``,
``next_deadline()`` and ``on_timer(now)`` (``SendMessage`` retransmits a 2xx, ``SendBye``
asks the TU to hang up). ``DialogRegistry`` finds dialogues by id and times them all.
"""

from sipcore.dialog.dialog import Dialog, DialogAction, DialogId, SendBye
from sipcore.dialog.registry import DialogRegistry
from sipcore.dialog.routing import route_request
from sipcore.dialog.tables import DIALOG_TRANSITIONS, DialogInput, DialogState

__all__ = [
    "DIALOG_TRANSITIONS",
    "Dialog",
    "DialogAction",
    "DialogId",
    "DialogInput",
    "DialogRegistry",
    "DialogState",
    "SendBye",
    "route_request",
]
