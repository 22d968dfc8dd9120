"""The dialogue state machine (RFC 3261 §12, §13.2.2.4, §15), as data.

``DIALOG_TRANSITIONS`` maps ``(state, input)`` to the next state; a missing pair
is a ``LocalProtocolError``. ``NEW`` exists only for the creating input: a
provisional response with a To tag creates an early dialogue, a 2xx a confirmed
one (§12.1). ``GONE`` is a 481 or 408 answer to an in-dialogue request, which
ends the dialogue (§12.2.1.2).
"""

from __future__ import annotations

import enum

from sipcore.errors import LocalProtocolError


class DialogState(enum.Enum):
    NEW = "New"
    EARLY = "Early"
    CONFIRMED = "Confirmed"
    TERMINATED = "Terminated"


class DialogInput(enum.Enum):
    PROVISIONAL = "1xx with To tag"
    SUCCESS = "2xx"
    REJECTED = "non-2xx final to the creating INVITE"
    GONE = "481/408 to an in-dialogue request"
    BYE = "BYE sent or received"


S = DialogState
D = DialogInput

DIALOG_TRANSITIONS: dict[tuple[DialogState, DialogInput], DialogState] = {
    (S.NEW, D.PROVISIONAL): S.EARLY,
    (S.NEW, D.SUCCESS): S.CONFIRMED,
    (S.EARLY, D.PROVISIONAL): S.EARLY,
    (S.EARLY, D.SUCCESS): S.CONFIRMED,
    (S.EARLY, D.REJECTED): S.TERMINATED,
    (S.EARLY, D.GONE): S.TERMINATED,
    (S.EARLY, D.BYE): S.TERMINATED,
    (S.CONFIRMED, D.PROVISIONAL): S.CONFIRMED,
    (S.CONFIRMED, D.SUCCESS): S.CONFIRMED,
    (S.CONFIRMED, D.GONE): S.TERMINATED,
    (S.CONFIRMED, D.BYE): S.TERMINATED,
    (S.TERMINATED, D.PROVISIONAL): S.TERMINATED,
    (S.TERMINATED, D.SUCCESS): S.TERMINATED,
    (S.TERMINATED, D.REJECTED): S.TERMINATED,
    (S.TERMINATED, D.GONE): S.TERMINATED,
}


def next_state(state: DialogState, event: DialogInput) -> DialogState:
    """The state after ``event``; a pair missing from the table is our own bug."""
    try:
        return DIALOG_TRANSITIONS[state, event]
    except KeyError:
        raise LocalProtocolError(
            f"dialogue in state {state.value} cannot handle {event.value}"
        ) from None
