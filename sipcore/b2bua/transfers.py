"""REFERs on a bridged call, run by ``sipcore.transfer`` and executed here.

``CallTransfers`` belongs to one ``Call``. Each REFER that reaches the call becomes a
``TransferProcess``; this module only carries out the actions the process returns and feeds
back what happened. Every decision is the process's. The process names legs by role; here
they are: the transferor (the REFER's leg), the transferee (the other leg of the REFER's
call), the consultation (attended: the leg of ``DialogRegistry`` the Replaces names, in
another call) and the target (the consultation call's far end; or the callee that answered
a consultation taken over while it rang; or the leg ``TargetCall`` placed for ``tr=c``).

* ``tr=n``: every REFER declined, the call untouched; ``tr=p`` blind: our own REFER on the
  transferee's dialogue, its NOTIFYs relayed back.
* ``tr=c`` blind: ``check_place_call`` before acceptance, then ``TargetCall`` runs the owner's
  ``transfer`` dialplan with offerless INVITEs; its offer re-INVITEs the transferee, whose
  answer goes in the target's ACK; then ``Call.bridge`` pairs transferee and target.
* Attended: the transferee is re-INVITEd with the target's session, then the target with
  the transferee's, one offer/answer at a time (a 491 comes back to the process, which
  backs off on its timer); the consultation call gives its target up to the REFER's call.
  Semi-attended: the ringing consultation call is handed over (``Call.hand_over``) or
  abandoned for a blind transfer, as the process says.

Once a server-side transfer is accepted, the transferor's dialogues end alone on BYE
(``Call.transferring``): the transfer goes on without them.

When another worker holds the consultation call (``cross``, in a cluster), the Replaces is
described by that worker and the target's re-INVITE becomes an INVITE replacing the
consultation dialogue there (``sipcore.b2bua.crossworker``); the rest runs as above.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from sipcore.b2bua.background import Background
from sipcore.b2bua.call import Call
from sipcore.b2bua.crossworker import CrossWorker
from sipcore.b2bua.leg import InboundLeg, Leg, OutboundLeg
from sipcore.b2bua.registry import DialogRegistry
from sipcore.b2bua.session import SessionServices
from sipcore.b2bua.target_call import TargetCall, TargetCallRequest, check_place_call
from sipcore.cluster.records import ClusterError, WorkerInfo
from sipcore.dialog import DialogId
from sipcore.dialplan import DialplanPool
from sipcore.directory import AccountRecord
from sipcore.endpoint import ServerTransactionHandle
from sipcore.errors import LocalProtocolError
from sipcore.events import EventSink, LiveEvent
from sipcore.message import Address, ParseError, Replaces, Request, make_response
from sipcore.policy import Decision as PolicyDecision
from sipcore.policy import Verdict
from sipcore.transfer import CallFacts, PlaceCallFacts, TransferProcess, read_refer
from sipcore.transfer import actions as act
from sipcore.transfer.replaces import DialogueState, Transferor, find_replaced
from sipcore.transfer.sdp import declined_answer
from sipcore.transfer.subscription import read_notify
from sipcore.transfer.tables import Flow

log = logging.getLogger(__name__)

SERVER_SIDE = frozenset({Flow.BLIND, Flow.ATTENDED, Flow.TAKEOVER})
"""The flows the server carries out itself (the transferor's dialogues may go meanwhile)."""
SDP = (("Content-Type", "application/sdp"),)


@dataclass(eq=False, slots=True)
class _Running:
    """One REFER being carried out: its process and the dialogues it acts on."""

    process: TransferProcess
    transferor: Leg
    transferee: Leg
    request: Request
    handle: ServerTransactionHandle
    timer: asyncio.TimerHandle | None = None
    passed_id: str | None = None
    """Pass-through: the CSeq of our REFER to the transferee, the ``id`` of its NOTIFYs."""
    consultation: Leg | None = None
    consultation_call: Call | None = None
    """Attended: the call the Replaces names a dialogue of (the transferor's consultation)."""
    target: Leg | None = None
    target_call: TargetCall | None = None
    holder: WorkerInfo | None = None
    """Attended across workers: the peer worker holding the consultation call."""
    renegotiated: set[Leg] = field(default_factory=set)
    """Legs the transfer re-INVITEs: relayed offers wait (491) until the transfer ends."""
    inbox: list[act.Input] = field(default_factory=list)
    executing: bool = False


class _TargetEvents:
    """What a transfer hears from the call ringing its target (``TargetCall``, or the
    consultation call it took over)."""

    def __init__(self, transfers: CallTransfers, running: _Running) -> None:
        self.transfers = transfers
        self.running = running

    def target_progress(self, status: int, reason: str) -> None:
        self.transfers._feed(self.running, act.TargetProgress(status=status, reason=reason))

    def target_answered(self, leg: OutboundLeg, offer: bytes) -> None:
        self.transfers._target_answered(self.running, leg, offer)

    def target_failed(self, status: int, reason: str) -> None:
        self.transfers._feed(self.running, act.TargetFailed(status=status, reason=reason))


class CallTransfers:
    """The REFERs of one call. ``owner`` is the account whose policy applies (the call's
    owner); ``services`` and ``pool`` place a ``tr=c`` transfer's call to its target."""

    def __init__(
        self,
        *,
        call: Call,
        owner: AccountRecord,
        services: SessionServices,
        pool: DialplanPool | None,
        events: EventSink,
        background: Background,
        clock: Callable[[], float],
        worker_id: str,
        cross: CrossWorker | None = None,
    ) -> None:
        self.call = call
        self.owner = owner
        self.services = services
        self.pool = pool
        self.events = events
        self.background = background
        self.clock = clock
        self.worker_id = worker_id
        self.cross = cross
        """Transfers whose consultation call another worker holds (None: a worker alone)."""
        self._running: list[_Running] = []

    @property
    def registry(self) -> DialogRegistry:
        return self.services.registry

    # what the call hands over ----------------------------------------------------------------

    async def on_refer(self, leg: Leg, request: Request, handle: ServerTransactionHandle) -> None:
        """A REFER from ``leg``: the other leg of the call is the transferee."""
        transferee = self.call.other(leg)
        if transferee is None or transferee.dialog is None or leg.dialog is None:
            leg.respond(request, handle, make_response(request, 481, "No call to transfer"))
            return
        now = self.clock()
        running = _Running(
            process=TransferProcess(
                refer=read_refer(request),
                call=self._facts(leg, transferee),
                now=now,
            ),
            transferor=leg,
            transferee=transferee,
            request=request,
            handle=handle,
        )
        self._running.append(running)
        self._execute(running, running.process.start(now))

    def takes_notify(self, leg: Leg, request: Request) -> bool:
        """Whether ``request`` is a refer-package NOTIFY for a REFER we passed to ``leg``."""
        return self._relaying(leg, request) is not None

    def on_notify(self, leg: Leg, request: Request, handle: ServerTransactionHandle) -> None:
        """The transferee reports on our pass-through REFER: answer, then relay."""
        leg.respond(request, handle, make_response(request, 200))
        running = self._relaying(leg, request)
        if running is not None:
            self._feed(running, act.NotifyReceived(request=request))

    def leg_gone(self, leg: Leg) -> None:
        """A dialogue of the call ended: every transfer it takes part in hears of it."""
        for running in list(self._running):
            if leg is running.transferor:
                self._feed(running, act.TransferorGone())
            elif leg is running.transferee:
                self._feed(running, act.TransfereeGone())

    def close(self) -> None:
        """The call ended: its transferees' dialogues went with it, so every transfer still
        running ends now (and records how), and no timer outlives the call."""
        for running in list(self._running):
            self._feed(running, act.TransfereeGone())
            if running.timer is not None:
                running.timer.cancel()
        self._running.clear()

    # running a process -----------------------------------------------------------------------

    def _relaying(self, leg: Leg, request: Request) -> _Running | None:
        """The pass-through transfer a NOTIFY from ``leg`` reports on: the one whose REFER's
        CSeq is its ``id``, or the oldest when it carries none (RFC 3515 §2.4.6)."""
        received = read_notify(request)
        if received is None:
            return None
        candidates = [r for r in self._running if r.transferee is leg and r.passed_id is not None]
        if received.event_id is None:
            return candidates[0] if candidates else None
        return next((r for r in candidates if r.passed_id == received.event_id), None)

    def _facts(self, transferor: Leg, transferee: Leg) -> CallFacts:
        owner = self.owner
        dialog = transferor.dialog
        assert dialog is not None and transferee.dialog is not None
        return CallFacts(
            customer_id=owner.customer.id,
            account_id=transferor.party_account_id,
            transferor=transferor.party,
            transferee=transferee.party,
            local_tag=dialog.id.local_tag,
            remote_tag=dialog.id.remote_tag,
            related_call_ids=(transferee.dialog.id.call_id,),
            leg_transfer=self.call.transfer,
            account_policy=owner.transfer_policy,
            accept_with_200=owner.refer_accept_with_200,
            semi_attended_fallback_blind=owner.semi_attended_fallback_blind,
            cross_account_allowed=owner.customer.allow_cross_account_attended_transfer,
            transfer_in_progress=any(
                r.process.flow is not Flow.PASS_THROUGH for r in self._running
            ),
            transferor_sdp=transferee.local_sdp,
            transferee_owned_call_id=isinstance(transferee, OutboundLeg),
            worker_id=self.worker_id,
            server_side=True,
        )

    def _feed(self, running: _Running, event: act.Input) -> None:
        """Report ``event``; an input arriving while actions run waits for them to finish,
        so each batch of actions is carried out in the order the process gave it."""
        running.inbox.append(event)
        if not running.executing:
            self._drain(running)

    def _drain(self, running: _Running) -> None:
        while running.inbox and not running.process.finished:
            event = running.inbox.pop(0)
            self._execute(running, running.process.handle(event, self.clock()))
        if running.process.finished:
            running.inbox.clear()

    def _execute(self, running: _Running, actions: list[act.Action]) -> None:
        running.executing = True
        try:
            for action in actions:
                self._one(running, action)
        finally:
            running.executing = False
        self._arm(running)
        if running.process.finished:
            self._finished(running)
        self._drain(running)

    def _finished(self, running: _Running) -> None:
        if running in self._running:
            self._running.remove(running)
        for leg in running.renegotiated:
            leg.renegotiating = False
        self.call.transferring.discard(running.transferor)
        if running.consultation_call is not None and running.consultation is not None:
            running.consultation_call.transferring.discard(running.consultation)

    def _one(self, running: _Running, action: act.Action) -> None:
        match action:
            case act.RespondToRefer(status=status, reason=reason, headers=headers):
                self._respond(running, status, reason, headers)
            case act.SendNotify():
                self.background.spawn(self._notify(running, action), "transfer NOTIFY")
            case act.SendRefer():
                self.background.spawn(self._pass(running, action), "pass-through REFER")
            case act.LookupDialogue(replaces=replaces):
                self._lookup(running, replaces)
            case act.CheckPlaceCall(target_user=target_user):
                self.background.spawn(self._check(running, target_user), "transfer checks")
            case act.PlaceCall():
                self._place(running, action)
            case act.ReInvite(leg=role, sdp=sdp):
                self._reinvite(running, role, sdp)
            case act.AckTarget(sdp=sdp):
                self._ack_target(running, sdp)
            case act.Bridge(a=a, b=b):
                self._bridge(running, self._leg(running, a), self._leg(running, b))
            case act.Bye(leg=role):
                self._bye(running, role)
            case act.Cancel(leg=role):
                self._cancel(running, role)
            case act.Restore():
                self._restore(running)
            case act.Audit(payload=payload):
                self.events.record_transfer_audit(payload)
            case act.Publish(event=event):
                self.events.publish(event)
            case act.LogToDialplan(message=message):
                self.events.publish(
                    LiveEvent(
                        kind="dialplan.log",
                        customer_id=self.owner.customer.id,
                        data={"call_id": running.request.call_id, "text": message},
                        at=self.clock(),
                    )
                )
            case _:
                raise LocalProtocolError(f"the B2BUA cannot carry out {action!r}")

    def _leg(self, running: _Running, role: act.Leg) -> Leg | None:
        match role:
            case act.Leg.TRANSFEROR:
                return running.transferor
            case act.Leg.TRANSFEREE:
                return running.transferee
            case act.Leg.CONSULTATION:
                return running.consultation
            case act.Leg.TARGET:
                return running.target
        raise LocalProtocolError(f"no leg plays {role!r}")

    # answering the REFER and notifying -------------------------------------------------------

    def _respond(
        self, running: _Running, status: int, reason: str, headers: tuple[tuple[str, str], ...]
    ) -> None:
        if running.handle.final_sent:
            return
        response = make_response(running.request, status, reason)
        for name, value in headers:
            response.headers.add(name, value)
        if status < 300:
            response.headers.add("Contact", running.transferor.contact)
            if running.process.flow in SERVER_SIDE:
                self._hold_transferor(running)
        running.transferor.respond(running.request, running.handle, response)

    def _hold_transferor(self, running: _Running) -> None:
        """Accepted: from now on the transferor's dialogues end alone on BYE."""
        self.call.transferring.add(running.transferor)
        consultation, call = running.consultation, running.consultation_call
        if consultation is not None and call is not None and call.holds(consultation):
            call.transferring.add(consultation)

    async def _notify(self, running: _Running, notify: act.SendNotify) -> None:
        try:
            response = await running.transferor.send(
                "NOTIFY", body=notify.body, headers=notify.headers
            )
            status = response.status
        except (LocalProtocolError, OSError, ConnectionError) as error:
            log.info("NOTIFY for transfer %s not sent: %s", running.process.transfer_id, error)
            status = 481
        self._feed(running, act.NotifyAnswered(status=status, final=notify.final))

    async def _pass(self, running: _Running, refer: act.SendRefer) -> None:
        """Our own REFER on the transferee's dialogue (never the transferor's forwarded)."""
        leg = running.transferee
        try:
            if leg.dialog is None:
                raise LocalProtocolError(f"{leg!r} has no dialogue")
            request = leg.dialog.create_request(
                "REFER", headers=[("Refer-To", refer.refer_to), ("Referred-By", refer.referred_by)]
            )
            request.headers.set("Max-Forwards", str(refer.max_forwards))
            running.passed_id = str(request.cseq.seq)
            response = await leg.endpoint.send_request(request, leg.peer)
            status, reason = response.status, response.reason
        except (LocalProtocolError, OSError, ConnectionError) as error:
            log.info("pass-through REFER on %r failed: %s", leg, error)
            status, reason = 500, "Server Internal Error"
        self._feed(running, act.ReferAnswered(status=status, reason=reason))

    # attended: the replaced dialogue ---------------------------------------------------------

    def _lookup(self, running: _Running, replaces: Replaces) -> None:
        """Find the consultation on this worker (its call's far end is the target), or else
        ask the peer worker holding it (``sipcore.b2bua.crossworker``)."""
        info = find_replaced(replaces, self.registry)
        if info is None and self.cross is not None:
            self.background.spawn(self._lookup_remote(running, replaces), "remote Replaces")
            return
        if info is not None:
            leg = self.registry.find(DialogId(info.call_id, info.local_tag, info.remote_tag))
            owner = leg.owner if leg is not None else None
            if owner is self.call:
                # Either dialogue of the REFER's own call: it cannot be transferred onto
                # itself, which the process refuses (400) for the REFER's own dialogue.
                own = running.transferor.dialog
                assert own is not None
                info = replace(
                    info,
                    call_id=own.id.call_id,
                    local_tag=own.id.local_tag,
                    remote_tag=own.id.remote_tag,
                )
            elif leg is not None and isinstance(owner, Call):
                running.consultation = leg
                running.consultation_call = owner
                running.target = owner.other(leg)
        self._feed(running, act.DialogueFound(info=info))

    async def _lookup_remote(self, running: _Running, replaces: Replaces) -> None:
        assert self.cross is not None
        facts = running.process.call
        transferor = Transferor(
            account_id=facts.account_id,
            customer_id=facts.customer_id,
            cross_account_allowed=facts.cross_account_allowed,
            call_id=running.request.call_id,
            local_tag=facts.local_tag,
            remote_tag=facts.remote_tag,
        )
        running.holder, info = await self.cross.find(replaces, transferor)
        if info is not None and info.state is DialogueState.EARLY:
            # Taking over callees another worker rings is not possible from here.
            info = replace(info, early_takeover=False)
        self._feed(running, act.DialogueFound(info=info))

    async def _take_over(self, running: _Running, sdp: bytes) -> None:
        """The target's re-INVITE when a peer worker holds it: our INVITE replacing the
        consultation dialogue there, with the transferee's session as its offer."""
        assert self.cross is not None and running.holder is not None
        replaces = running.process.refer.replaces
        assert replaces is not None
        process = running.process
        try:
            leg, response = await self.cross.call_holder(
                running.holder,
                replaces,
                sdp,
                caller=_name_addr(running.transferee.party),
                target=process.audit.target,
                referred_by=process.refer.referred_by_for_invite,
                account_id=process.call.account_id,
                customer_id=process.call.customer_id,
                related_call_id=running.request.call_id,
            )
            status, reason, answer = response.status, response.reason, response.body
        except (LocalProtocolError, ClusterError, OSError, ConnectionError) as error:
            log.info("transfer %s: no takeover on the peer: %s", process.transfer_id, error)
            leg, status, reason, answer = None, 500, "Server Internal Error", b""
        if leg is not None and 200 <= status < 300:
            if process.finished:
                leg.detail.hung_up("transfer over before the takeover", self.clock())
                self.call.record_leg(leg.detail)
                self.background.spawn(leg.bye(), "hanging up a late takeover")
                return
            leg.party = process.audit.target
            leg.local_sdp, leg.remote_sdp = sdp, answer
            self.call.set_aside(leg)
            running.target = leg
        elif leg is not None:
            leg.detail.hung_up(f"{status} {reason}", self.clock())
            self.call.record_leg(leg.detail)
        self._feed(running, act.ReInviteAnswered(leg=act.Leg.TARGET, status=status, sdp=answer))

    # tr=c: the call to the target ------------------------------------------------------------

    async def _check(self, running: _Running, target_user: str) -> None:
        try:
            facts = await check_place_call(self.services, self.pool, self.owner, target_user)
        except Exception:
            log.exception("checking transfer %s failed", running.process.transfer_id)
            facts = PlaceCallFacts(
                dialplan_exists=True,
                executions_active=0,
                execution_limit=0,
                destination=PolicyDecision(
                    verdict=Verdict.DENIED_PREFIX, detail="the destination could not be checked"
                ),
            )
        self._feed(running, act.PlaceCallChecked(facts=facts))

    def _place(self, running: _Running, place: act.PlaceCall) -> None:
        refer = running.process.refer
        try:
            request = TargetCallRequest(
                owner=self.owner,
                target_user=place.target_user,
                target_uri=place.target,
                referred_by=place.referred_by,
                caller=_name_addr(running.transferee.party),
                related_call_id=running.request.call_id,
                max_forwards=max(1, min(255, refer.max_forwards - 1)),
            )
        except ValueError as error:
            log.info("transfer %s cannot place its call: %s", running.process.transfer_id, error)
            self._feed(running, act.TargetFailed(status=400, reason="Bad Request"))
            return
        running.target_call = TargetCall(
            services=self.services,
            pool=self.pool,
            request=request,
            listener=_TargetEvents(self, running),
        )
        running.target_call.start()

    def _target_answered(self, running: _Running, leg: OutboundLeg, offer: bytes) -> None:
        """The target answered (the placed call, or the consultation taken over): the REFER's
        call holds its leg aside until the process bridges it."""
        if running.process.finished:
            leg.detail.hung_up("transfer over before the target answered", self.clock())
            self.call.record_leg(leg.detail)
            self.background.spawn(self._refuse_late(leg, offer), "hanging up a late target")
            return
        leg.party = leg.party or running.process.audit.target
        leg.party_account_id = leg.detail.account_id
        leg.remote_sdp = offer
        self.call.set_aside(leg)
        running.target = leg
        self._feed(running, act.TargetAnswered(sdp=offer))

    @staticmethod
    async def _refuse_late(leg: OutboundLeg, offer: bytes) -> None:
        """Acknowledge an answer nobody wants with every stream declined, then hang up."""
        await leg.complete_ack(declined_answer(offer), "application/sdp")
        await leg.bye()

    def _ack_target(self, running: _Running, sdp: bytes) -> None:
        target = running.target
        if target is None:
            return
        target.local_sdp = sdp
        self.background.spawn(target.complete_ack(sdp, "application/sdp"), "ACK to the target")

    # re-INVITEs and re-pairing ---------------------------------------------------------------

    def _reinvite(self, running: _Running, role: act.Leg, sdp: bytes) -> None:
        leg = self._leg(running, role)
        if role is act.Leg.TARGET and leg is None and running.holder is not None:
            self.background.spawn(self._take_over(running, sdp), "transfer takeover")
            return
        if leg is not None:
            leg.renegotiating = True
            running.renegotiated.add(leg)
        self.background.spawn(self._send_reinvite(running, role, leg, sdp), "transfer re-INVITE")

    async def _send_reinvite(
        self, running: _Running, role: act.Leg, leg: Leg | None, sdp: bytes
    ) -> None:
        if leg is None or not leg.confirmed:
            status, answer = 481, b""
        elif not sdp:
            status, answer = 488, b""  # nothing known to offer (a session never negotiated)
        elif leg.inviting:
            status, answer = 491, b""  # an INVITE of ours is still out on it: glare
        else:
            try:
                response = await leg.send("INVITE", body=sdp, headers=SDP)
                status, answer = response.status, response.body
            except (LocalProtocolError, OSError, ConnectionError) as error:
                log.info("transfer re-INVITE on %r failed: %s", leg, error)
                status, answer = 500, b""
            if 200 <= status < 300:
                leg.local_sdp = sdp
                if answer:
                    leg.remote_sdp = answer
        self._feed(running, act.ReInviteAnswered(leg=role, status=status, sdp=answer))

    def _bridge(self, running: _Running, transferee: Leg | None, target: Leg | None) -> None:
        for leg in running.renegotiated:
            leg.renegotiating = False
        if transferee is None or target is None or not (transferee.confirmed and target.confirmed):
            self.background.spawn(
                self.call.hang_up("a transferred party left before the bridge"), "transfer"
            )
            return
        placed = running.target_call
        if placed is None:
            self.call.bridge(transferee, target)
            return
        # The placed call's answering leg is now the call's: its tr option and limit apply.
        self.call.transfer = placed.leg_transfer
        self.call.bridge(transferee, target, answered_limit=placed.answered_limit)

    def _bye(self, running: _Running, role: act.Leg) -> None:
        leg = self._leg(running, role)
        if leg is None:
            return
        reason = "transfer failed" if role is act.Leg.TARGET else "transferred"
        owner = leg.owner
        if isinstance(owner, Call):
            owner.leave(leg, reason, bye=True)
        else:
            self.background.spawn(leg.bye(), f"BYE on {leg!r}")

    def _cancel(self, running: _Running, role: act.Leg) -> None:
        if role is act.Leg.TARGET:
            if running.target_call is not None:
                running.target_call.cancel()
            elif running.consultation_call is not None and not running.consultation_call.answered:
                running.consultation_call.abandon()
            elif running.target is not None and running.consultation_call is not None:
                self.background.spawn(
                    running.consultation_call.hang_up("transfer fell back to blind"),
                    "ending the consultation",
                )
            return
        consultation, call = running.consultation, running.consultation_call
        if consultation is None or call is None:
            return
        if isinstance(consultation, InboundLeg) and not consultation.answered:
            call.hand_over(_TargetEvents(self, running))
        elif isinstance(consultation, OutboundLeg) and not consultation.confirmed:
            consultation.cancel()
        else:
            call.leave(consultation, "replaced", bye=True)

    def _restore(self, running: _Running) -> None:
        """The original bridges stand; a target taken over but never bridged is hung up."""
        for leg in running.renegotiated:
            leg.renegotiating = False
        target = running.target
        if target is not None and self.call.holds(target) and self.call.other(target) is None:
            self.call.leave(target, "transfer failed", bye=True)
        self.call.restore()
        if running.consultation_call is not None:
            running.consultation_call.restore()

    # the process's timer ---------------------------------------------------------------------

    def _arm(self, running: _Running) -> None:
        if running.timer is not None:
            running.timer.cancel()
            running.timer = None
        deadline = running.process.next_deadline()
        if deadline is None:
            return
        loop = asyncio.get_running_loop()
        running.timer = loop.call_later(max(0.0, deadline - self.clock()), self._fire, running)

    def _fire(self, running: _Running) -> None:
        running.timer = None
        self._execute(running, running.process.on_timer(self.clock()))


def _name_addr(party: str) -> str:
    """``party`` (a From or To value) as a name-addr without its tag."""
    try:
        address = Address.parse(party)
    except ParseError:
        return party
    params = {name: value for name, value in address.params.items() if name != "tag"}
    return str(Address(address.uri, address.display_name, params))
