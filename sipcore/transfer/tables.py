"""The transfer process as data: ``(state, input) -> (next state, effect)`` per flow.

A transfer starts ``UNDECIDED`` (reading the REFER, finding the replaced dialogue, checking
a server-side blind transfer may be attempted) and, once accepted, follows one flow:

* ``PASS_THROUGH`` (``tr=p``, blind): our own REFER to the transferee, its NOTIFYs relayed.
* ``BLIND`` (``tr=c``, or a semi-attended transfer falling back): the target is called first
  (no offer), its offer re-INVITEs the transferee, the transferee's answer goes in the ACK.
* ``ATTENDED`` (confirmed consultation dialogue): re-INVITE the transferee with the target's
  session, then the target with the transferee's, one offer/answer at a time.
* ``TAKEOVER`` (semi-attended, early consultation dialogue taken over): wait for the target
  to answer, then as ``ATTENDED``.

The effect names a method of ``TransferProcess`` (``_effect_<name>``) that builds the
actions. A pair missing from the table is our own bug (``LocalProtocolError``); terminal
states take every input and do nothing.
"""

from __future__ import annotations

import enum

from sipcore.errors import LocalProtocolError


class State(enum.Enum):
    RECEIVED = "received"
    LOOKING_UP = "looking up the replaced dialogue"
    CHECKING = "checking before acceptance"
    PASSING = "REFER passed to the transferee"
    RELAYING = "relaying the transferee's NOTIFYs"
    CALLING_TARGET = "calling the target"
    TARGET_RINGING = "target ringing"
    REINVITING_TRANSFEREE = "re-INVITE to the transferee"
    TRANSFEREE_BACKOFF = "491 back-off before the transferee's re-INVITE"
    REINVITING_TARGET = "re-INVITE to the target"
    TARGET_BACKOFF = "491 back-off before the target's re-INVITE"
    RESTORING = "re-INVITE restoring the transferee"
    RESTORE_BACKOFF = "491 back-off before restoring the transferee"
    NOTIFYING_FINAL = "final NOTIFY sent, waiting for its answer"
    COMPLETED = "completed"
    FAILED = "failed"
    REJECTED = "rejected"


TERMINAL = frozenset({State.COMPLETED, State.FAILED, State.REJECTED})


class Flow(enum.Enum):
    UNDECIDED = "undecided"
    PASS_THROUGH = "pass-through"
    BLIND = "server-side blind"
    ATTENDED = "attended"
    TAKEOVER = "semi-attended takeover"


class In(enum.Enum):
    START_REFUSED = "REFER refused at once (malformed, tr=n, no server-side)"
    START_PASS_THROUGH = "blind REFER under tr=p"
    START_PLACE_CALL = "blind REFER under tr=c"
    START_ATTENDED = "attended REFER under tr=p or tr=c"
    DIALOGUE_REFUSED = "replaced dialogue refused"
    DIALOGUE_CONFIRMED = "replaced dialogue confirmed"
    DIALOGUE_EARLY_TAKEOVER = "replaced dialogue early, taken over"
    DIALOGUE_EARLY_FALLBACK = "replaced dialogue early, blind fallback"
    CHECKS_PASSED = "pre-acceptance checks passed"
    CHECKS_FAILED = "pre-acceptance checks failed"
    REFER_ACCEPTED = "transferee accepted our REFER"
    REFER_REFUSED = "transferee refused our REFER"
    RELAYED_PROGRESS = "transferee NOTIFY, provisional"
    RELAYED_SUCCESS = "transferee NOTIFY, final 2xx"
    RELAYED_FAILURE = "transferee NOTIFY, final failure"
    TARGET_PROGRESS = "target provisional"
    TARGET_ANSWERED = "target answered"
    TARGET_FAILED = "target failed"
    REINVITE_ACCEPTED = "re-INVITE 2xx"
    REINVITE_GLARE = "re-INVITE 491"
    REINVITE_FAILED = "re-INVITE failed"
    TIMER = "timer"
    NOTIFY_ANSWERED = "final NOTIFY answered"
    TRANSFEROR_GONE = "transferor's dialogue ended"
    TRANSFEREE_GONE = "transferee's dialogue ended"


S = State
Table = dict[tuple[State, In], tuple[State, str]]

UNDECIDED: Table = {
    (S.RECEIVED, In.START_REFUSED): (S.REJECTED, "refuse"),
    (S.RECEIVED, In.START_PASS_THROUGH): (S.PASSING, "pass_refer"),
    (S.RECEIVED, In.START_PLACE_CALL): (S.CHECKING, "ask_checks"),
    (S.RECEIVED, In.START_ATTENDED): (S.LOOKING_UP, "ask_lookup"),
    (S.LOOKING_UP, In.DIALOGUE_REFUSED): (S.REJECTED, "refuse"),
    (S.LOOKING_UP, In.DIALOGUE_CONFIRMED): (S.REINVITING_TRANSFEREE, "accept_attended"),
    (S.LOOKING_UP, In.DIALOGUE_EARLY_TAKEOVER): (S.TARGET_RINGING, "accept_takeover"),
    (S.LOOKING_UP, In.DIALOGUE_EARLY_FALLBACK): (S.CHECKING, "ask_checks"),
    (S.CHECKING, In.CHECKS_FAILED): (S.REJECTED, "refuse"),
    (S.CHECKING, In.CHECKS_PASSED): (S.CALLING_TARGET, "accept_blind"),
    (S.LOOKING_UP, In.TRANSFEROR_GONE): (S.REJECTED, "refuse_gone"),
    (S.LOOKING_UP, In.TRANSFEREE_GONE): (S.REJECTED, "refuse_gone"),
    (S.CHECKING, In.TRANSFEROR_GONE): (S.REJECTED, "refuse_gone"),
    (S.CHECKING, In.TRANSFEREE_GONE): (S.REJECTED, "refuse_gone"),
}

PASS_THROUGH: Table = {
    (S.PASSING, In.REFER_ACCEPTED): (S.RELAYING, "accept_passed"),
    (S.PASSING, In.REFER_REFUSED): (S.FAILED, "refuse_passed"),
    (S.PASSING, In.TRANSFEROR_GONE): (S.REJECTED, "refuse_gone"),
    (S.PASSING, In.TRANSFEREE_GONE): (S.REJECTED, "refuse_gone"),
    (S.RELAYING, In.RELAYED_PROGRESS): (S.RELAYING, "relay_progress"),
    (S.RELAYING, In.RELAYED_SUCCESS): (S.COMPLETED, "relay_success"),
    (S.RELAYING, In.RELAYED_FAILURE): (S.FAILED, "relay_failure"),
    (S.RELAYING, In.TIMER): (S.FAILED, "relay_expired"),
    (S.RELAYING, In.TRANSFEROR_GONE): (S.RELAYING, "forget_transferor"),
    (S.RELAYING, In.TRANSFEREE_GONE): (S.FAILED, "relay_lost"),
}

_RINGING: Table = {
    (S.TARGET_RINGING, In.TARGET_PROGRESS): (S.TARGET_RINGING, "notify_progress"),
    (S.TARGET_RINGING, In.TARGET_ANSWERED): (S.REINVITING_TRANSFEREE, "reinvite_transferee"),
    (S.TARGET_RINGING, In.TARGET_FAILED): (S.FAILED, "target_failed"),
    (S.TARGET_RINGING, In.TRANSFEROR_GONE): (S.TARGET_RINGING, "forget_transferor"),
    (S.TARGET_RINGING, In.TRANSFEREE_GONE): (S.FAILED, "abandon_target"),
}

_FINAL_NOTIFY: Table = {
    (S.NOTIFYING_FINAL, In.NOTIFY_ANSWERED): (S.COMPLETED, "complete"),
    (S.NOTIFYING_FINAL, In.TRANSFEROR_GONE): (S.COMPLETED, "complete"),
    (S.NOTIFYING_FINAL, In.TRANSFEREE_GONE): (S.NOTIFYING_FINAL, "nothing"),
}

_TRANSFEREE_REINVITE: Table = {
    (S.REINVITING_TRANSFEREE, In.REINVITE_GLARE): (S.TRANSFEREE_BACKOFF, "back_off"),
    (S.TRANSFEREE_BACKOFF, In.TIMER): (S.REINVITING_TRANSFEREE, "reinvite_transferee"),
    (S.REINVITING_TRANSFEREE, In.TRANSFEROR_GONE): (S.REINVITING_TRANSFEREE, "forget_transferor"),
    (S.TRANSFEREE_BACKOFF, In.TRANSFEROR_GONE): (S.TRANSFEREE_BACKOFF, "forget_transferor"),
}

BLIND: Table = {
    **_RINGING,
    **_FINAL_NOTIFY,
    **_TRANSFEREE_REINVITE,
    (S.CALLING_TARGET, In.TARGET_PROGRESS): (S.TARGET_RINGING, "notify_progress"),
    (S.CALLING_TARGET, In.TARGET_ANSWERED): (S.REINVITING_TRANSFEREE, "reinvite_transferee"),
    (S.CALLING_TARGET, In.TARGET_FAILED): (S.FAILED, "target_failed"),
    (S.CALLING_TARGET, In.TRANSFEROR_GONE): (S.CALLING_TARGET, "forget_transferor"),
    (S.CALLING_TARGET, In.TRANSFEREE_GONE): (S.FAILED, "abandon_target"),
    (S.REINVITING_TRANSFEREE, In.REINVITE_ACCEPTED): (S.NOTIFYING_FINAL, "answer_target"),
    (S.REINVITING_TRANSFEREE, In.REINVITE_FAILED): (S.FAILED, "drop_target"),
    (S.REINVITING_TRANSFEREE, In.TRANSFEREE_GONE): (S.FAILED, "drop_target"),
    (S.TRANSFEREE_BACKOFF, In.TRANSFEREE_GONE): (S.FAILED, "drop_target"),
}

ATTENDED: Table = {
    **_FINAL_NOTIFY,
    **_TRANSFEREE_REINVITE,
    (S.REINVITING_TRANSFEREE, In.REINVITE_ACCEPTED): (S.REINVITING_TARGET, "reinvite_target"),
    (S.REINVITING_TRANSFEREE, In.REINVITE_FAILED): (S.FAILED, "fail_unchanged"),
    (S.REINVITING_TRANSFEREE, In.TRANSFEREE_GONE): (S.FAILED, "fail_unchanged"),
    (S.TRANSFEREE_BACKOFF, In.TRANSFEREE_GONE): (S.FAILED, "fail_unchanged"),
    (S.REINVITING_TARGET, In.REINVITE_ACCEPTED): (S.NOTIFYING_FINAL, "bridge"),
    (S.REINVITING_TARGET, In.REINVITE_GLARE): (S.TARGET_BACKOFF, "back_off"),
    (S.TARGET_BACKOFF, In.TIMER): (S.REINVITING_TARGET, "reinvite_target"),
    (S.REINVITING_TARGET, In.REINVITE_FAILED): (S.RESTORING, "restore_transferee"),
    (S.REINVITING_TARGET, In.TRANSFEROR_GONE): (S.REINVITING_TARGET, "forget_transferor"),
    (S.REINVITING_TARGET, In.TRANSFEREE_GONE): (S.FAILED, "fail_unchanged"),
    (S.TARGET_BACKOFF, In.TRANSFEROR_GONE): (S.TARGET_BACKOFF, "forget_transferor"),
    (S.TARGET_BACKOFF, In.TRANSFEREE_GONE): (S.FAILED, "fail_unchanged"),
    (S.RESTORING, In.REINVITE_ACCEPTED): (S.FAILED, "fail_restored"),
    (S.RESTORING, In.REINVITE_FAILED): (S.FAILED, "fail_restored"),
    (S.RESTORING, In.REINVITE_GLARE): (S.RESTORE_BACKOFF, "back_off"),
    (S.RESTORE_BACKOFF, In.TIMER): (S.RESTORING, "restore_transferee"),
    (S.RESTORING, In.TRANSFEROR_GONE): (S.RESTORING, "forget_transferor"),
    (S.RESTORING, In.TRANSFEREE_GONE): (S.FAILED, "fail_restored"),
    (S.RESTORE_BACKOFF, In.TRANSFEROR_GONE): (S.RESTORE_BACKOFF, "forget_transferor"),
    (S.RESTORE_BACKOFF, In.TRANSFEREE_GONE): (S.FAILED, "fail_restored"),
}

TAKEOVER: Table = {**ATTENDED, **_RINGING}

TRANSITIONS: dict[Flow, Table] = {
    Flow.UNDECIDED: UNDECIDED,
    Flow.PASS_THROUGH: PASS_THROUGH,
    Flow.BLIND: BLIND,
    Flow.ATTENDED: ATTENDED,
    Flow.TAKEOVER: TAKEOVER,
}


def transition(flow: Flow, state: State, event: In) -> tuple[State, str]:
    """The next state and effect name; a pair missing from the table is our own bug."""
    try:
        return TRANSITIONS[flow][state, event]
    except KeyError:
        raise LocalProtocolError(
            f"a {flow.value} transfer in state {state.value!r} cannot handle {event.value}"
        ) from None
