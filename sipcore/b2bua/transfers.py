"""REFERs on a bridged call, run by ``sipcore.transfer`` and executed here.

``CallTransfers`` belongs to one ``Call``. Each REFER that reaches the call becomes a
``TransferProcess``; this module only carries out the actions the process returns (answer
the REFER, send NOTIFYs and the pass-through REFER on the right dialogues, write the audit
record, publish live events, arm the process's timer) and feeds back what happened
(responses, the transferee's NOTIFYs, BYEs). Every decision is the process's.

Wired so far: ``tr=n`` (every REFER declined, the call untouched) and ``tr=p`` blind
pass-through. Server-side transfers (``tr=c`` blind, attended under ``p`` or ``c``) need the
call to place the target's leg without an offer and to re-pair its legs, which ``Call`` and
``OutboundLeg`` cannot do yet; until they can, ``CallFacts.server_side`` is False and the
process refuses such REFERs with ``501`` before anything is accepted.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sipcore.b2bua.background import Background
from sipcore.b2bua.leg import Leg
from sipcore.directory import AccountRecord
from sipcore.endpoint import ServerTransactionHandle
from sipcore.errors import LocalProtocolError
from sipcore.events import EventSink, LiveEvent
from sipcore.message import Request, make_response
from sipcore.transfer import CallFacts, TransferProcess, read_refer
from sipcore.transfer import actions as act
from sipcore.transfer.subscription import read_notify

if TYPE_CHECKING:
    from sipcore.b2bua.call import Call

log = logging.getLogger(__name__)


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


class CallTransfers:
    """The REFERs of one call. ``owner`` is the account whose policy applies (the call's
    owner); ``caller_account_id`` is the account of the caller's user agent when the call was
    placed by one of the customer's accounts (None for calls from providers)."""

    def __init__(
        self,
        *,
        call: Call,
        owner: AccountRecord,
        caller_account_id: int | None,
        events: EventSink,
        background: Background,
        clock: Callable[[], float],
        worker_id: str,
    ) -> None:
        self.call = call
        self.owner = owner
        self.caller_account_id = caller_account_id
        self.events = events
        self.background = background
        self.clock = clock
        self.worker_id = worker_id
        self._running: list[_Running] = []

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
            account_id=self._account_of(transferor),
            transferor=self._party(transferor),
            transferee=self._party(transferee),
            local_tag=dialog.id.local_tag,
            remote_tag=dialog.id.remote_tag,
            related_call_ids=(transferee.dialog.id.call_id,),
            leg_transfer=self.call.transfer,
            account_policy=owner.transfer_policy,
            accept_with_200=owner.refer_accept_with_200,
            semi_attended_fallback_blind=owner.semi_attended_fallback_blind,
            cross_account_allowed=owner.customer.allow_cross_account_attended_transfer,
            worker_id=self.worker_id,
            server_side=False,
        )

    def _party(self, leg: Leg) -> str:
        """Who is on ``leg``, as the caller named them: its From, or the address it dialled."""
        caller = self.call.a.detail
        return caller.from_header if leg is self.call.a else caller.to_header

    def _account_of(self, leg: Leg) -> int | None:
        if leg is self.call.a:
            return self.caller_account_id
        return leg.detail.account_id

    def _feed(self, running: _Running, event: act.Input) -> None:
        self._execute(running, running.process.handle(event, self.clock()))

    def _execute(self, running: _Running, actions: list[act.Action]) -> None:
        for action in actions:
            self._one(running, action)
        self._arm(running)
        if running.process.finished and running in self._running:
            self._running.remove(running)

    def _one(self, running: _Running, action: act.Action) -> None:
        match action:
            case act.RespondToRefer(status=status, reason=reason, headers=headers):
                if running.handle.final_sent:
                    return
                response = make_response(running.request, status, reason)
                for name, value in headers:
                    response.headers.add(name, value)
                if status < 300:
                    response.headers.add("Contact", running.transferor.contact)
                running.transferor.respond(running.request, running.handle, response)
            case act.SendNotify():
                self.background.spawn(self._notify(running, action), "transfer NOTIFY")
            case act.SendRefer():
                self.background.spawn(self._pass(running, action), "pass-through REFER")
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
