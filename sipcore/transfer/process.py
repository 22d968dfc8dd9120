"""One REFER from its arrival to its last NOTIFY: the sans-I/O transfer process.

The B2BUA creates a ``TransferProcess`` for each REFER on a bridged call, calls ``start``,
executes the actions it gets back (``sipcore.transfer.actions``) and reports what happens
with ``handle``; ``next_deadline``/``on_timer`` drive the 491 back-off and the pass-through
relay's time limit. ``now`` is Unix time from the B2BUA's clock. The transitions are the
tables in ``sipcore.transfer.tables``; the ``_effect_*`` methods here only build actions.

What the process guarantees, whatever the inputs:

* every REFER gets exactly one final response and one audit record (updated at the end);
* nothing is accepted that cannot be attempted: refusals happen before the 202/200;
* the transferee is not touched before the target answered (server-side blind), and a
  failure after acceptance leaves the original call as it was (``Restore``);
* once the transferor's dialogue is gone, no NOTIFY is built and the transfer carries on.
"""

from __future__ import annotations

import random as random_module
import uuid
from dataclasses import dataclass

from sipcore.directory import TransferPolicy
from sipcore.errors import LocalProtocolError
from sipcore.message import reason_phrase
from sipcore.transfer.actions import (
    AckTarget,
    Action,
    Bridge,
    Bye,
    Cancel,
    CheckPlaceCall,
    DialogueFound,
    Input,
    Leg,
    LogToDialplan,
    LookupDialogue,
    NotifyAnswered,
    NotifyReceived,
    PlaceCall,
    PlaceCallChecked,
    ReferAnswered,
    ReInvite,
    ReInviteAnswered,
    RespondToRefer,
    Restore,
    SendNotify,
    SendRefer,
    TargetAnswered,
    TargetFailed,
    TargetProgress,
    TransfereeGone,
    TransferorGone,
)
from sipcore.transfer.audit import Outcome, TransferAudit
from sipcore.transfer.checks import TRANSFER_DIALPLAN, judge_place_call
from sipcore.transfer.glare import MAX_GLARE_RETRIES, RandomSource, glare_delay
from sipcore.transfer.policy import (
    DISABLED,
    MISCONFIGURED,
    PLATFORM_POLICY,
    Decision,
    TransferPolicyError,
    call_policy,
    decide,
)
from sipcore.transfer.refer import ReferRequest, Refusal, TransferKind
from sipcore.transfer.replaces import DialogueInfo, DialogueState, Transferor, judge_replaces
from sipcore.transfer.sdp import declined_answer
from sipcore.transfer.subscription import Notifier, accept_response, read_notify
from sipcore.transfer.tables import TERMINAL, Flow, In, State, transition

RELAY_SECONDS = 240.0
"""How long a pass-through transfer waits for the transferee's final NOTIFY (a ring timeout
of at most 180 s plus slack) before it is recorded as failed."""

GONE = Refusal(status=481, reason="The call has ended")
_RANDOM = random_module.Random()
"""The glare back-off's random source unless one is injected."""
TRANSFEREE_LEFT = (487, "Request Terminated")


@dataclass(frozen=True, slots=True, kw_only=True)
class CallFacts:
    """What the B2BUA knows about the REFER's call when the REFER arrives."""

    customer_id: int | None
    account_id: int | None
    """The transferor's SIP account (None when the transferor is a provider)."""
    transferor: str
    transferee: str
    """Who the parties are, as the audit shows them (address of record or From)."""
    local_tag: str
    remote_tag: str
    """The REFER's dialogue from the server's side (its Call-ID is the REFER's)."""
    related_call_ids: tuple[str, ...] = ()
    leg_transfer: str | None = None
    """The ``tr`` option of the leg that answered the call, if it had one."""
    account_policy: TransferPolicy = PLATFORM_POLICY
    """The transferor's account's resolved policy (account, customer, platform)."""
    accept_with_200: bool = False
    semi_attended_fallback_blind: bool = False
    cross_account_allowed: bool = False
    transferor_sdp: bytes = b""
    """The session description the transferee is bridged to now (to restore it)."""
    transferee_owned_call_id: bool = False
    """Whether the server chose the Call-ID of the transferee's dialogue (RFC 3261 §14.1)."""
    worker_id: str = ""
    transfer_in_progress: bool = False
    """Another REFER of this call is being processed on the server (not passed through):
    two cannot re-bridge the same transferee at once, so this one waits (491)."""
    server_side: bool = True
    """Whether the B2BUA can carry out server-side transfers (place calls, re-INVITE,
    re-bridge); when it cannot, REFERs the policy says to process are refused up front."""


UNAVAILABLE = Refusal(status=501, reason="Server-side transfers are not available")
BUSY = Refusal(status=491, reason="Another transfer of this call is in progress")


class TransferProcess:
    def __init__(
        self,
        *,
        refer: ReferRequest,
        call: CallFacts,
        now: float,
        transfer_id: str | None = None,
        random: RandomSource | None = None,
    ) -> None:
        self.refer = refer
        self.call = call
        self.state = State.RECEIVED
        self.flow = Flow.UNDECIDED
        self.random: RandomSource = random or _RANDOM
        self.notifier = Notifier(event_id=refer.event_id, subscribed=refer.subscribe)
        self.audit = TransferAudit(
            transfer_id=transfer_id or uuid.uuid4().hex,
            requested_at=now,
            refer=refer,
            customer_id=call.customer_id,
            account_id=call.account_id,
            transferor=call.transferor,
            transferee=call.transferee,
            worker_id=call.worker_id,
            target="" if refer.target is None else str(refer.target),
            related_call_ids=list(call.related_call_ids),
            kind=refer.kind,
        )
        self._deadline: float | None = None
        self._glare_retries = 0
        self._refusal: Refusal | None = None
        self._policy_error = ""
        self._fallback = False
        self._consultation_open = False
        self._transferor_gone = False
        self._target_owned_call_id = True
        self._target_sdp = b""
        self._transferee_sdp = b""
        self._failure: tuple[int, str] = (500, "Server Internal Error")
        self._target_status = 100
        self._posted: list[In] = []

    def __repr__(self) -> str:
        return f"<TransferProcess {self.transfer_id} {self.flow.value} {self.state.value}>"

    @property
    def transfer_id(self) -> str:
        return self.audit.transfer_id

    @property
    def finished(self) -> bool:
        return self.state in TERMINAL

    @property
    def kind(self) -> TransferKind:
        return self.audit.kind

    # driving ---------------------------------------------------------------------------------

    def start(self, now: float) -> list[Action]:
        """Read the REFER against the policy: refuse it, or ask for what is needed next."""
        if self.state is not State.RECEIVED:
            raise LocalProtocolError(f"{self!r} was already started")
        actions = self.audit.requested()
        return actions + self._fire(self._classify_start(), now)

    def handle(self, event: Input, now: float) -> list[Action]:
        """What to do about ``event``; a finished transfer ignores everything."""
        if self.finished:
            return []
        if isinstance(event, NotifyAnswered):
            self.notifier.answered(event.status)
            if not event.final:
                return []
        kind = self._classify(event)
        if kind is None:
            return []
        return self._fire(kind, now, event)

    def next_deadline(self) -> float | None:
        return None if self.finished else self._deadline

    def on_timer(self, now: float) -> list[Action]:
        if self._deadline is None or now < self._deadline or self.finished:
            return []
        self._deadline = None
        return self._fire(In.TIMER, now)

    def _fire(self, kind: In, now: float, event: Input | None = None) -> list[Action]:
        actions: list[Action] = []
        self._posted.append(kind)
        while self._posted:
            current = self._posted.pop(0)
            if self.finished:
                self._posted.clear()
                break
            next_state, effect = transition(self.flow, self.state, current)
            self.state = next_state
            actions += getattr(self, f"_effect_{effect}")(event, now)
            event = None
        return actions

    # classifying inputs ---------------------------------------------------------------------

    def _classify_start(self) -> In:
        refer = self.refer
        try:
            policy = call_policy(self.call.leg_transfer, self.call.account_policy)
        except TransferPolicyError as error:
            self._policy_error = str(error)
            policy = None
        else:
            self.audit.policy = policy
        if refer.refusal is not None:
            self._refusal = refer.refusal
            return In.START_REFUSED
        if policy is None:
            self._refusal = MISCONFIGURED
            return In.START_REFUSED
        decision = decide(policy, refer.kind)
        if decision is Decision.REJECTED:
            self._refusal = DISABLED
            return In.START_REFUSED
        if decision is Decision.PROCESSED and not self.call.server_side:
            self._refusal = UNAVAILABLE
            return In.START_REFUSED
        if decision is Decision.PROCESSED and self.call.transfer_in_progress:
            self._refusal = BUSY
            return In.START_REFUSED
        if refer.kind is TransferKind.ATTENDED:
            return In.START_ATTENDED
        if decision is Decision.PASSED_THROUGH:
            if refer.max_forwards <= 0:
                self._refusal = Refusal(status=483, reason="Too Many Hops")
                return In.START_REFUSED
            return In.START_PASS_THROUGH
        return In.START_PLACE_CALL

    def _classify(self, event: Input) -> In | None:
        match event:
            case DialogueFound(info=info):
                return self._classify_dialogue(info)
            case PlaceCallChecked(facts=facts):
                self._refusal = judge_place_call(facts)
                return In.CHECKS_PASSED if self._refusal is None else In.CHECKS_FAILED
            case ReferAnswered(status=status):
                return In.REFER_ACCEPTED if 200 <= status < 300 else In.REFER_REFUSED
            case NotifyReceived(request=request):
                received = read_notify(request)
                if received is None:
                    return None
                if not received.terminated:
                    return In.RELAYED_PROGRESS
                return In.RELAYED_SUCCESS if 200 <= received.status < 300 else In.RELAYED_FAILURE
            case TargetProgress():
                return In.TARGET_PROGRESS
            case TargetAnswered():
                return In.TARGET_ANSWERED
            case TargetFailed():
                return In.TARGET_FAILED
            case ReInviteAnswered(leg=leg, status=status):
                return self._classify_reinvite(leg, status)
            case NotifyAnswered():
                return In.NOTIFY_ANSWERED
            case TransferorGone():
                return In.TRANSFEROR_GONE
            case TransfereeGone():
                return In.TRANSFEREE_GONE
        raise LocalProtocolError(f"not a transfer input: {event!r}")

    def _classify_dialogue(self, info: DialogueInfo | None) -> In:
        replaces = self.refer.replaces
        if replaces is None:
            raise LocalProtocolError("a dialogue was found for a blind transfer")
        transferor = Transferor(
            account_id=self.call.account_id,
            customer_id=self.call.customer_id,
            cross_account_allowed=self.call.cross_account_allowed,
            call_id=self.refer.call_id,
            local_tag=self.call.local_tag,
            remote_tag=self.call.remote_tag,
        )
        self._refusal = judge_replaces(replaces, info, transferor)
        if self._refusal is not None or info is None:
            return In.DIALOGUE_REFUSED
        if info.call_id not in self.audit.related_call_ids:
            self.audit.related_call_ids.append(info.call_id)
        self._target_sdp = info.far_end_sdp
        self._target_owned_call_id = info.far_end_owned_call_id
        if info.state is DialogueState.CONFIRMED:
            self._consultation_open = True
            return In.DIALOGUE_CONFIRMED
        self.audit.kind = TransferKind.SEMI_ATTENDED
        if self.call.semi_attended_fallback_blind:
            self._fallback = True
            return In.DIALOGUE_EARLY_FALLBACK
        return In.DIALOGUE_EARLY_TAKEOVER

    def _classify_reinvite(self, leg: Leg, status: int) -> In:
        expected = (
            Leg.TARGET
            if self.state in (State.REINVITING_TARGET, State.TARGET_BACKOFF)
            else Leg.TRANSFEREE
        )
        if leg is not expected:
            raise LocalProtocolError(f"{self!r} did not re-INVITE the {leg.value}")
        if 200 <= status < 300:
            self._glare_retries = 0
            return In.REINVITE_ACCEPTED
        if status == 491 and self._glare_retries < MAX_GLARE_RETRIES:
            return In.REINVITE_GLARE
        self._failure = (status, reason_phrase(status))
        return In.REINVITE_FAILED

    # effects: before acceptance ---------------------------------------------------------------

    def _effect_refuse(self, event: Input | None, now: float) -> list[Action]:
        refusal = self._refusal or DISABLED
        actions: list[Action] = [RespondToRefer(status=refusal.status, reason=refusal.reason)]
        reason = refusal.reason
        if self._policy_error and refusal is MISCONFIGURED:
            actions.append(LogToDialplan(message=self._policy_error))
            reason = f"{refusal.reason}: {self._policy_error}"
        return actions + self.audit.rejected(refusal.status, reason, now)

    def _effect_refuse_gone(self, event: Input | None, now: float) -> list[Action]:
        self._refusal = GONE
        return self._effect_refuse(event, now)

    def _effect_ask_lookup(self, event: Input | None, now: float) -> list[Action]:
        assert self.refer.replaces is not None
        return [LookupDialogue(replaces=self.refer.replaces)]

    def _effect_ask_checks(self, event: Input | None, now: float) -> list[Action]:
        return [CheckPlaceCall(target_user=self.refer.target_user)]

    def _accept(self, decision: Decision, now: float) -> list[Action]:
        status, reason, headers = accept_response(
            subscribe=self.refer.subscribe, with_200=self.call.accept_with_200
        )
        actions: list[Action] = [RespondToRefer(status=status, reason=reason, headers=headers)]
        actions += self.audit.decided(decision, now)
        return actions + self._notify(100, now)

    def _effect_pass_refer(self, event: Input | None, now: float) -> list[Action]:
        self.flow = Flow.PASS_THROUGH
        return [
            SendRefer(
                refer_to=self.refer.raw_refer_to,
                referred_by=self.refer.referred_by_for_invite,
                max_forwards=self.refer.max_forwards - 1,
            )
        ]

    def _effect_accept_blind(self, event: Input | None, now: float) -> list[Action]:
        self.flow = Flow.BLIND
        self._target_owned_call_id = True
        actions = self._accept(Decision.PROCESSED, now)
        if self._fallback:
            actions += [Cancel(leg=Leg.CONSULTATION), Cancel(leg=Leg.TARGET)]
        return [
            *actions,
            PlaceCall(
                dialplan=TRANSFER_DIALPLAN,
                target=self.audit.target,
                target_user=self.refer.target_user,
                referred_by=self.refer.referred_by_for_invite,
            ),
        ]

    def _effect_accept_attended(self, event: Input | None, now: float) -> list[Action]:
        self.flow = Flow.ATTENDED
        actions = self._accept(Decision.PROCESSED, now)
        return [*actions, ReInvite(leg=Leg.TRANSFEREE, sdp=self._target_sdp)]

    def _effect_accept_takeover(self, event: Input | None, now: float) -> list[Action]:
        self.flow = Flow.TAKEOVER
        return [*self._accept(Decision.PROCESSED, now), Cancel(leg=Leg.CONSULTATION)]

    # effects: pass-through --------------------------------------------------------------------

    def _effect_accept_passed(self, event: Input | None, now: float) -> list[Action]:
        return self._accept(Decision.PASSED_THROUGH, now) + self._arm(now + RELAY_SECONDS)

    def _effect_refuse_passed(self, event: Input | None, now: float) -> list[Action]:
        assert isinstance(event, ReferAnswered)
        reason = event.reason or reason_phrase(event.status)
        actions: list[Action] = [RespondToRefer(status=event.status, reason=reason)]
        actions += self.audit.decided(Decision.PASSED_THROUGH, now)
        return actions + self.audit.finished(Outcome.FAILED, event.status, now, reason)

    def _relayed(self, event: Input | None) -> tuple[int, str]:
        assert isinstance(event, NotifyReceived)
        received = read_notify(event.request)
        assert received is not None
        return received.status, received.reason

    def _effect_relay_progress(self, event: Input | None, now: float) -> list[Action]:
        status, reason = self._relayed(event)
        if status == self._target_status:
            return []
        self._target_status = status
        return self._notify(status, now, reason)

    def _effect_relay_success(self, event: Input | None, now: float) -> list[Action]:
        status, reason = self._relayed(event)
        self._deadline = None
        actions = self._notify(status, now, reason)
        return actions + self.audit.finished(Outcome.COMPLETED, status, now)

    def _effect_relay_failure(self, event: Input | None, now: float) -> list[Action]:
        status, reason = self._relayed(event)
        self._deadline = None
        return self._fail(status, reason, now, restore=False)

    def _effect_relay_lost(self, event: Input | None, now: float) -> list[Action]:
        """The transferee's dialogue ended before its final NOTIFY: its subscription went with
        it, so the outcome is unknown; the transferor hears the last status, terminated."""
        self._deadline = None
        status = self._target_status
        actions = self._notify(status, now, final=True)
        reason = "The call ended before the transferee reported an outcome"
        return actions + self.audit.finished(Outcome.FAILED, status, now, reason)

    def _effect_relay_expired(self, event: Input | None, now: float) -> list[Action]:
        return self._fail(408, "Request Timeout", now, restore=False)

    # effects: the target's call and the re-INVITEs -------------------------------------------

    def _effect_notify_progress(self, event: Input | None, now: float) -> list[Action]:
        assert isinstance(event, TargetProgress)
        if event.status == self._target_status:
            return []
        self._target_status = event.status
        return self._notify(event.status, now, event.reason)

    def _effect_target_failed(self, event: Input | None, now: float) -> list[Action]:
        assert isinstance(event, TargetFailed)
        return self._fail(event.status, event.reason or reason_phrase(event.status), now)

    def _effect_abandon_target(self, event: Input | None, now: float) -> list[Action]:
        return [Cancel(leg=Leg.TARGET), *self._fail(*TRANSFEREE_LEFT, now)]

    def _effect_reinvite_transferee(self, event: Input | None, now: float) -> list[Action]:
        if isinstance(event, TargetAnswered):
            self._target_sdp = event.sdp
        return [ReInvite(leg=Leg.TRANSFEREE, sdp=self._target_sdp)]

    def _effect_reinvite_target(self, event: Input | None, now: float) -> list[Action]:
        if isinstance(event, ReInviteAnswered):
            self._transferee_sdp = event.sdp
        return [ReInvite(leg=Leg.TARGET, sdp=self._transferee_sdp)]

    def _effect_restore_transferee(self, event: Input | None, now: float) -> list[Action]:
        return [ReInvite(leg=Leg.TRANSFEREE, sdp=self.call.transferor_sdp)]

    def _effect_back_off(self, event: Input | None, now: float) -> list[Action]:
        self._glare_retries += 1
        owned = (
            self._target_owned_call_id
            if self.state is State.TARGET_BACKOFF
            else self.call.transferee_owned_call_id
        )
        return self._arm(now + glare_delay(self.random, owns_call_id=owned))

    def _effect_answer_target(self, event: Input | None, now: float) -> list[Action]:
        assert isinstance(event, ReInviteAnswered)
        return [AckTarget(sdp=event.sdp), *self._succeed(now)]

    def _effect_bridge(self, event: Input | None, now: float) -> list[Action]:
        return self._succeed(now)

    def _effect_drop_target(self, event: Input | None, now: float) -> list[Action]:
        if isinstance(event, TransfereeGone):
            self._failure = TRANSFEREE_LEFT
        actions: list[Action] = [
            AckTarget(sdp=declined_answer(self._target_sdp)),
            Bye(leg=Leg.TARGET),
        ]
        return actions + self._fail(*self._failure, now)

    def _effect_fail_unchanged(self, event: Input | None, now: float) -> list[Action]:
        if isinstance(event, TransfereeGone):
            self._failure = TRANSFEREE_LEFT
        return self._fail(*self._failure, now)

    def _effect_fail_restored(self, event: Input | None, now: float) -> list[Action]:
        return self._fail(*self._failure, now)

    # effects: the end ------------------------------------------------------------------------

    def _effect_forget_transferor(self, event: Input | None, now: float) -> list[Action]:
        self._transferor_gone = True
        self.notifier.subscriber_gone()
        return []

    def _effect_nothing(self, event: Input | None, now: float) -> list[Action]:
        return []

    def _effect_complete(self, event: Input | None, now: float) -> list[Action]:
        if isinstance(event, TransferorGone):
            self._effect_forget_transferor(event, now)
        actions: list[Action] = []
        if not self._transferor_gone:
            actions.append(Bye(leg=Leg.TRANSFEROR))
        if self._consultation_open:
            actions.append(Bye(leg=Leg.CONSULTATION))
        return actions + self.audit.finished(Outcome.COMPLETED, 200, now)

    def _succeed(self, now: float) -> list[Action]:
        """Both far ends are bridged: re-pair the legs, then the final NOTIFY; the BYE to
        the transferor waits for its answer (``NOTIFYING_FINAL``)."""
        actions: list[Action] = [Bridge(a=Leg.TRANSFEREE, b=Leg.TARGET)]
        notify = self._notify(200, now)
        if not any(isinstance(action, SendNotify) for action in notify):
            self._posted.append(In.NOTIFY_ANSWERED)
        return actions + notify

    def _fail(self, status: int, reason: str, now: float, *, restore: bool = True) -> list[Action]:
        actions = self._notify(status, now, reason, final=True)
        if restore:
            actions.append(Restore())
        return actions + self.audit.finished(Outcome.FAILED, status, now, reason)

    def _notify(
        self, status: int, now: float, reason: str | None = None, *, final: bool | None = None
    ) -> list[Action]:
        actions: list[Action] = self.audit.progress(status, now)
        notify = self.notifier.notify(status, reason, final=final)
        if notify is not None:
            self.audit.notify_statuses = list(self.notifier.sent)
            actions.append(notify)
        return actions

    def _arm(self, deadline: float) -> list[Action]:
        self._deadline = deadline
        return []
