"""A call: two legs bridged by the server, and everything it records.

Every call starts as the caller's leg and the callees it rings (forking). Progress and the
answer of the winning leg are relayed to the caller with their session descriptions
untouched; afterwards each in-dialogue request (re-INVITE, UPDATE, INFO, OPTIONS, MESSAGE)
is sent on the other leg of the bridge and its answer mirrored back (an ACK carrying a
delayed offer's answer too), a BYE from either side ends both, and the answered-call limit
(``cd``, or the worker's maximum call length) ends the call with BYE on every leg.

The bridge is two generic slots, ``a`` and ``b``: either may hold an ``InboundLeg`` or an
``OutboundLeg``. A transfer re-pairs them (``bridge``): the transferee with the target, which
may come from another call (attended: the consultation call gives its far end up) or from
the call the transfer placed (``tr=c``). A leg taken out of the bridge stays with the call,
alone, until its dialogue ends (the transferor waiting for its final NOTIFY); a transferor's
leg whose transfer was accepted (``transferring``) ends alone on BYE, so its transfer goes
on. A call still ringing can be handed over to a transfer (semi-attended takeover): the
caller's INVITE is answered ``487`` and the callees ring on for the transfer. The call ends
when no leg is left. When a leg leaves, or the call ends, that leg's call detail is recorded
exactly once; the call's owner gets its concurrent call back once, when the call ends.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Protocol

from sipcore.b2bua.background import Background
from sipcore.b2bua.detail import LegDetail
from sipcore.b2bua.flag import Flag
from sipcore.b2bua.leg import InboundLeg, Leg, OutboundLeg, party_identity
from sipcore.b2bua.relay import ALLOW, RELAYED_METHODS, mirrored_response, relayed_headers
from sipcore.dialog import DialogState
from sipcore.endpoint import ServerTransactionHandle
from sipcore.errors import LocalProtocolError
from sipcore.events import EventSink, LiveEvent
from sipcore.message import Request, Response, make_response
from sipcore.transfer.replaces import DialogueInfo, DialogueState

if TYPE_CHECKING:
    from sipcore.b2bua.transfers import CallTransfers
    from sipcore.directory import AccountRecord

log = logging.getLogger(__name__)

SESSION_METHODS = frozenset({"INVITE", "UPDATE"})
"""In-dialogue requests that carry an offer or an answer (RFC 3264, RFC 3311)."""


class RingingListener(Protocol):
    """Who a ringing call was handed over to: a semi-attended transfer taking the callees
    over (the same callbacks as ``sipcore.b2bua.target_call.TargetCallListener``)."""

    def target_progress(self, status: int, reason: str) -> None: ...

    def target_answered(self, leg: OutboundLeg, offer: bytes) -> None:
        """A callee answered: ``leg`` is confirmed and acknowledged, its owner None (the
        listener sets it); ``offer`` is its session description."""

    def target_failed(self, status: int, reason: str) -> None: ...


class CallHost(Protocol):
    """The B2BUA holding a call: one object for all its calls, so a call carries no
    callbacks of its own."""

    def call_ended(self, call: Call) -> None:
        """``call`` ended: it holds none of its account's concurrent calls any more."""

    def transfers_for(self, call: Call) -> CallTransfers:
        """A runner for the REFERs of ``call`` (made on its first REFER)."""


class Call:
    """One call from its INVITE to its last BYE.

    A worker holds thousands at once for minutes each: the attributes are slots, and the
    sets only a transfer or a re-INVITE needs are made when first used."""

    __slots__ = (
        "_answered",
        "_aside",
        "_handed_over",
        "_host",
        "_limit",
        "_listener",
        "_recorded",
        "_relaying_invite",
        "_ringing_sent",
        "_transferring",
        "a",
        "account",
        "b",
        "background",
        "caller",
        "caller_gone",
        "clock",
        "customer_id",
        "ended",
        "events",
        "transfer",
        "transfers",
    )

    def __init__(
        self,
        *,
        a: InboundLeg,
        customer_id: int | None,
        events: EventSink,
        background: Background,
        clock: Callable[[], float],
        host: CallHost,
        account: AccountRecord,
    ) -> None:
        self.caller = a
        """The INVITE that started the call: progress, answer and failure go to it."""
        self.a: Leg | None = a
        self.b: Leg | None = None
        """The bridge: relayed requests cross from one slot to the other. A slot is None
        before the answer and after its leg left."""
        self.customer_id = customer_id
        self.account = account
        """The account the call counts against (its concurrent calls, its transfer policy)."""
        self.events = events
        self.background = background
        self.clock = clock
        self.caller_gone = Flag()
        self.ended = Flag()
        self.transfer: str | None = None
        """The ``tr`` option of the leg that answered (TRANSFER.md), if it had one."""
        self.transfers: CallTransfers | None = None
        """Runs the REFERs this call receives: made on the first one (most calls get none)."""
        self._transferring: set[Leg] | None = None
        self._host = host
        self._answered = False
        self._aside: list[Leg] = []
        self._recorded: set[str] | None = None
        self._ringing_sent = False
        self._limit: asyncio.TimerHandle | None = None
        self._relaying_invite: set[Leg] | None = None
        self._handed_over = False
        self._listener: RingingListener | None = None
        a.owner = self
        a.remote_sdp = a.invite.body

    def __repr__(self) -> str:
        return f"<Call {self.caller.invite.call_id}>"

    @property
    def answered(self) -> bool:
        return self._answered

    @property
    def transferring(self) -> set[Leg]:
        """Legs of a transferor whose accepted transfer depends on this call: a BYE on one
        ends only that dialogue."""
        if self._transferring is None:
            self._transferring = set()
        return self._transferring

    @property
    def legs(self) -> list[Leg]:
        """Every leg the call still holds: the bridge, then those set aside."""
        return [leg for leg in (self.a, self.b) if leg is not None] + self._aside

    # before the answer -----------------------------------------------------------------------

    def progress(self, leg: OutboundLeg, response: Response) -> None:
        """A callee rings (or sends early media): tell the caller."""
        now = self.clock()
        leg.detail.progress(response.status, now)
        if self._listener is not None:
            self._listener.target_progress(response.status, response.reason)
            return
        if self.caller_gone.is_set() or self.answered or self._handed_over:
            return
        self.caller.detail.progress(response.status, now)
        body = response.body if response.status == 183 else b""
        if response.status == 183 or not self._ringing_sent:
            headers = relayed_headers(response) if body else []
            self.caller.provisional(response.status, response.reason, body=body, headers=headers)
        if not self._ringing_sent:
            self._ringing_sent = True
            self.publish("call.ringing", status=response.status)

    def connect(
        self, leg: OutboundLeg, answer: Response, *, answered_limit: float | None = None
    ) -> bool:
        """Bridge the answering ``leg`` with the caller; False when the caller is gone.
        A call handed over to a transfer gives the answer to it instead, and ends."""
        now = self.clock()
        leg.detail.answered(answer.status, now)
        leg.local_sdp, leg.remote_sdp = leg.invite.body, answer.body
        if self._listener is not None:
            listener, self._listener = self._listener, None
            listener.target_answered(leg, answer.body)
            self._finish("taken over by a transfer")
            return True
        if self.caller_gone.is_set() or self.caller.answered:
            self.record_leg(leg.detail)
            self.background.spawn(leg.bye(), "hanging up an answer nobody wants")
            return False
        self.b = leg
        self._answered = True
        leg.owner = self
        leg.party = party_identity(self.caller.detail.to_header)
        leg.party_account_id = leg.detail.account_id
        self.caller.detail.bridged_call_id = leg.detail.call_id
        leg.detail.bridged_call_id = self.caller.detail.call_id
        self.caller.local_sdp = answer.body
        self.caller.answer(answer.body, relayed_headers(answer))
        self.caller.detail.answered(200, now)
        if answered_limit:
            loop = asyncio.get_running_loop()
            self._limit = loop.call_later(answered_limit, self._limit_reached)
        self.publish("call.answered", destination=leg.detail.destination)
        return True

    def caller_cancelled(self) -> None:
        """The caller sent CANCEL: answer its INVITE with 487 and stop ringing (unless the
        callees were handed over to a transfer: they ring on for it)."""
        if self._handed_over:
            return
        self.caller_gone.set()
        self._reject_caller(487)

    def fail(self, status: int, reason: str = "", headers: Iterable[tuple[str, str]] = ()) -> None:
        """The call could not be connected: the caller gets ``status`` and the call ends."""
        if self._listener is not None:
            listener, self._listener = self._listener, None
            listener.target_failed(status, reason)
        self._reject_caller(status, reason, headers)
        self._finish(f"{status} {reason}".strip())

    def _reject_caller(
        self, status: int, reason: str = "", headers: Iterable[tuple[str, str]] = ()
    ) -> None:
        if not self.caller.answered:
            self.caller.reject(status, reason, headers)
            self.caller.detail.answered(status, self.clock())

    def leg_failed(self, leg: OutboundLeg, response: Response) -> None:
        """A callee's leg ended without being bridged: record it now."""
        leg.detail.answered(response.status, self.clock())
        leg.detail.hung_up(f"{response.status} {response.reason}", self.clock())
        self.record_leg(leg.detail)

    # handing a ringing call over to a transfer -----------------------------------------------

    def hand_over(self, listener: RingingListener) -> None:
        """The caller's INVITE (the consultation a transfer replaces) is answered 487; the
        callees ring on, and their progress, answer or failure go to ``listener``."""
        self._handed_over = True
        self._listener = listener
        self._reject_caller(487)

    def abandon(self) -> None:
        """Stop ringing the callees of a handed-over call; its listener hears nothing more."""
        self._listener = None
        self.caller_gone.set()

    # after the answer ------------------------------------------------------------------------

    def other(self, leg: Leg) -> Leg | None:
        if leg is self.a:
            return self.b
        if leg is self.b:
            return self.a
        return None

    def holds(self, leg: Leg) -> bool:
        return leg in self.legs

    def describe(self, leg: Leg) -> DialogueInfo | None:
        """``leg``'s dialogue for a Replaces naming it: the far end is the party bridged to it
        (none while the call rings)."""
        dialog = leg.dialog
        if dialog is None:
            return None
        if dialog.state is DialogState.CONFIRMED and not self.ended.is_set():
            state = DialogueState.CONFIRMED
        elif dialog.state is DialogState.EARLY and not self.ended.is_set():
            state = DialogueState.EARLY
        else:
            state = DialogueState.TERMINATED
        far = self.other(leg)
        return DialogueInfo(
            call_id=dialog.id.call_id,
            local_tag=dialog.id.local_tag,
            remote_tag=dialog.id.remote_tag,
            state=state,
            method="INVITE",
            account_id=leg.party_account_id,
            customer_id=self.customer_id,
            worker_id=leg.detail.worker_id,
            far_end_sdp=far.remote_sdp if far is not None else b"",
            far_end_owned_call_id=far is None or isinstance(far, OutboundLeg),
        )

    async def on_request(self, leg: Leg, request: Request, handle: ServerTransactionHandle) -> None:
        method = request.method
        if method == "BYE":
            leg.respond(request, handle, make_response(request, 200))
            if self.transfers is not None:
                self.transfers.leg_gone(leg)
            reason = f"BYE from {'caller' if leg is self.caller else 'callee'}"
            if self._ends_alone(leg):
                self.leave(leg, reason, bye=False)
            else:
                await self.hang_up(reason, by=leg)
            return
        if method == "REFER":
            if self.transfers is None:
                self.transfers = self._host.transfers_for(self)
            await self.transfers.on_refer(leg, request, handle)
            return
        if (
            self.transfers is not None
            and method == "NOTIFY"
            and self.transfers.takes_notify(leg, request)
        ):
            self.transfers.on_notify(leg, request, handle)
            return
        other = self.other(leg)
        if method not in RELAYED_METHODS:
            response = make_response(request, 501)
            response.headers.add("Allow", ALLOW)
            leg.respond(request, handle, response)
            return
        if other is None or other.dialog is None or self.ended.is_set():
            leg.respond(request, handle, make_response(request, 491 if method == "INVITE" else 481))
            return
        if self._glare(method, leg, other):
            leg.respond(request, handle, make_response(request, 491))
            return
        if method == "INVITE":
            if self._relaying_invite is None:
                self._relaying_invite = set()
            self._relaying_invite.add(leg)
        try:
            answer = await other.send(method, body=request.body, headers=relayed_headers(request))
        except (LocalProtocolError, OSError, ConnectionError) as error:
            log.info("relaying %s on %r failed: %s", method, self, error)
            answer = make_response(request, 500)
        finally:
            if self._relaying_invite is not None:
                self._relaying_invite.discard(leg)
        if method in SESSION_METHODS and 200 <= answer.status < 300:
            if request.body:
                leg.remote_sdp = other.local_sdp = request.body
            if answer.body:
                other.remote_sdp = leg.local_sdp = answer.body
        contact = leg.contact if method in SESSION_METHODS else None
        leg.respond(request, handle, mirrored_response(request, answer, contact=contact))
        if answer.status in (408, 481):
            await self.hang_up(f"{answer.status} on the other leg", by=None)

    def _glare(self, method: str, leg: Leg, other: Leg) -> bool:
        """Whether an offer from ``leg`` must wait (491): a transfer is changing either
        session, or an INVITE is already on its way across the bridge (RFC 3261 §14.1)."""
        if method in SESSION_METHODS and (leg.renegotiating or other.renegotiating):
            return True
        if method != "INVITE":
            return False
        relaying = self._relaying_invite or ()
        return leg in relaying or other in relaying or other.inviting > 0

    def _ends_alone(self, leg: Leg) -> bool:
        return (self._transferring is not None and leg in self._transferring) or (
            leg in self._aside
        )

    async def on_ack(self, leg: Leg, ack: Request) -> None:
        """Pass the answer of a delayed offer on to the leg whose ACK waits for it."""
        if ack.body:
            leg.remote_sdp = ack.body
        other = self.other(leg)
        if other is not None:
            if ack.body:
                other.local_sdp = ack.body
            await other.complete_ack(ack.body, ack.headers.get("Content-Type"))

    async def on_dialog_lost(self, leg: Leg, reason: str) -> None:
        if self._ends_alone(leg):
            self.leave(leg, reason, bye=False)
            return
        await self.hang_up(reason, by=leg)

    async def hang_up(self, reason: str, *, by: Leg | None = None) -> None:
        """End the call: BYE on every confirmed leg except ``by`` (which already ended)."""
        if self.ended.is_set():
            return
        if not self.answered:
            self.caller_gone.set()
            self._reject_caller(487 if by is self.caller else 480)
        now = self.clock()
        byes = []
        for leg in self.legs:
            leg.detail.hung_up(reason, now)
            if leg is by:
                leg.forget()
            else:
                byes.append(leg.bye())
        self._finish(reason)
        await asyncio.gather(*byes)

    # re-pairing (transfers) ------------------------------------------------------------------

    def set_aside(self, leg: Leg) -> None:
        """Hold ``leg`` outside the bridge (a transfer's target before it is bridged)."""
        leg.owner = self
        if not self.holds(leg):
            self._aside.append(leg)

    def bridge(self, a: Leg, b: Leg, *, answered_limit: float | None = None) -> None:
        """From now on relay between ``a`` and ``b``; a leg that came from another call
        leaves it, and the legs bridged before stay aside, alone, until they end. With
        ``answered_limit`` the new pair may last that long (the limit of the leg that joined)."""
        for leg in (a, b):
            owner, leg.owner = leg.owner, self
            if isinstance(owner, Call) and owner is not self:
                owner.release(leg)
        before = [leg for leg in (self.a, self.b) if leg is not None and leg not in (a, b)]
        self._aside = [leg for leg in self._aside if leg not in (a, b)] + before
        self.a, self.b = a, b
        self._answered = True
        a.detail.bridged_call_id = b.detail.call_id
        b.detail.bridged_call_id = a.detail.call_id
        if answered_limit:
            if self._limit is not None:
                self._limit.cancel()
            loop = asyncio.get_running_loop()
            self._limit = loop.call_later(answered_limit, self._limit_reached)
        self.publish("call.bridged", parties=[a.party, b.party])

    def release(self, leg: Leg) -> None:
        """Give ``leg`` up to another call (nothing is recorded: its new call will)."""
        self._drop(leg)
        if not self.legs:
            self._finish("transferred")

    def leave(self, leg: Leg, reason: str, *, bye: bool) -> None:
        """End ``leg``'s dialogue alone (BYE from us when ``bye``) and record it; the call
        goes on with whatever is left, and ends with its last leg."""
        if self.ended.is_set() or not self.holds(leg):
            return
        self._drop(leg)
        leg.detail.hung_up(reason, self.clock())
        self.record_leg(leg.detail)
        if bye:
            self.background.spawn(leg.bye(), f"BYE on {leg!r} alone")
        else:
            leg.forget()
        if not self.legs:
            self._finish(reason)

    def restore(self) -> None:
        """A transfer gave up: the bridge stands as it was. If a party left meanwhile (the
        transferor hung up after the 202) the one still here is hung up."""
        if self.ended.is_set() or not self.answered:
            return
        if self.a is None or self.b is None:
            self.background.spawn(
                self.hang_up("transfer failed after its transferor left"), "ending a lone leg"
            )

    def _drop(self, leg: Leg) -> None:
        if leg is self.a:
            self.a = None
        elif leg is self.b:
            self.b = None
        elif leg in self._aside:
            self._aside.remove(leg)
        if self._transferring is not None:
            self._transferring.discard(leg)

    # the end ---------------------------------------------------------------------------------

    def _limit_reached(self) -> None:
        self._limit = None
        self.background.spawn(self.hang_up("answered call limit reached"), "cd limit")

    def _finish(self, reason: str) -> None:
        if self.ended.is_set():
            return
        self.ended.set()
        self.caller_gone.set()
        if self.transfers is not None:
            self.transfers.close()
        if self._limit is not None:
            self._limit.cancel()
        now = self.clock()
        for leg in [self.caller, *self.legs]:
            if leg.owner is self:
                leg.detail.hung_up(reason, now)
                self.record_leg(leg.detail)
        self.publish("call.ended", reason=reason, answered=self.answered)
        self._host.call_ended(self)

    # records and events ----------------------------------------------------------------------

    def record_leg(self, detail: LegDetail) -> None:
        if self._recorded is None:
            self._recorded = set()
        if detail.leg_id not in self._recorded:
            self._recorded.add(detail.leg_id)
            self.events.record_call_detail(detail.payload())

    def publish(self, kind: str, **data: Any) -> None:
        detail = self.caller.detail
        payload = {
            "call_id": detail.call_id,
            "leg_id": detail.leg_id,
            "from": detail.from_header,
            "to": detail.to_header,
            **data,
        }
        self.events.publish(
            LiveEvent(kind=kind, customer_id=self.customer_id, data=payload, at=self.clock())
        )
