"""A call: the caller's leg bridged to the leg that answered, and everything it records.

Every call is two dialogues (or more while forking) joined here. Progress and the answer
of the winning leg are relayed to the caller with their session descriptions untouched;
afterwards each in-dialogue request (re-INVITE, UPDATE, INFO, OPTIONS, MESSAGE) is sent on
the other leg and its answer mirrored back (an ACK carrying a delayed offer's answer too),
a BYE from either side ends both, and the answered-call limit (``cd``, or the worker's
maximum call length) ends the call with BYE on both legs. Transfers will re-bridge
legs by swapping ``a``/``b``: nothing here assumes a leg keeps its partner for life.
When the call ends each leg's call detail is recorded exactly once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from typing import Any

from sipcore.b2bua.background import Background
from sipcore.b2bua.detail import LegDetail
from sipcore.b2bua.leg import InboundLeg, Leg, OutboundLeg
from sipcore.b2bua.relay import ALLOW, RELAYED_METHODS, mirrored_response, relayed_headers
from sipcore.b2bua.transfers import CallTransfers
from sipcore.endpoint import ServerTransactionHandle
from sipcore.errors import LocalProtocolError
from sipcore.events import EventSink, LiveEvent
from sipcore.message import Request, Response, make_response

log = logging.getLogger(__name__)


class Call:
    """One call from its INVITE to its last BYE."""

    def __init__(
        self,
        *,
        a: InboundLeg,
        customer_id: int | None,
        events: EventSink,
        background: Background,
        clock: Callable[[], float],
        on_end: Callable[[Call], None],
    ) -> None:
        self.a = a
        self.b: OutboundLeg | None = None
        self.customer_id = customer_id
        self.events = events
        self.background = background
        self.clock = clock
        self.caller_gone = asyncio.Event()
        self.ended = asyncio.Event()
        self.transfer: str | None = None
        """The ``tr`` option of the leg that answered (TRANSFER.md), if it had one."""
        self.transfers: CallTransfers | None = None
        """Runs the REFERs this call receives (set by the B2BUA once the call is admitted)."""
        self._on_end = on_end
        self._recorded: set[str] = set()
        self._ringing_sent = False
        self._limit: asyncio.TimerHandle | None = None
        self._relaying_invite: set[Leg] = set()
        a.owner = self

    def __repr__(self) -> str:
        return f"<Call {self.a.invite.call_id}>"

    @property
    def answered(self) -> bool:
        return self.b is not None

    # before the answer -----------------------------------------------------------------------

    def progress(self, leg: OutboundLeg, response: Response) -> None:
        """A callee rings (or sends early media): tell the caller."""
        now = self.clock()
        leg.detail.progress(response.status, now)
        if self.caller_gone.is_set() or self.answered:
            return
        self.a.detail.progress(response.status, now)
        body = response.body if response.status == 183 else b""
        if response.status == 183 or not self._ringing_sent:
            headers = relayed_headers(response) if body else []
            self.a.provisional(response.status, response.reason, body=body, headers=headers)
        if not self._ringing_sent:
            self._ringing_sent = True
            self.publish("call.ringing", status=response.status)

    def connect(
        self, leg: OutboundLeg, answer: Response, *, answered_limit: float | None = None
    ) -> bool:
        """Bridge the answering ``leg`` with the caller; False when the caller is gone."""
        now = self.clock()
        leg.detail.answered(answer.status, now)
        if self.caller_gone.is_set() or self.a.answered:
            self.record_leg(leg.detail)
            self.background.spawn(leg.bye(), "hanging up an answer nobody wants")
            return False
        self.b = leg
        leg.owner = self
        self.a.detail.bridged_call_id = leg.detail.call_id
        leg.detail.bridged_call_id = self.a.detail.call_id
        self.a.answer(answer.body, relayed_headers(answer))
        self.a.detail.answered(200, now)
        if answered_limit:
            loop = asyncio.get_running_loop()
            self._limit = loop.call_later(answered_limit, self._limit_reached)
        self.publish("call.answered", destination=leg.detail.destination)
        return True

    def caller_cancelled(self) -> None:
        """The caller sent CANCEL: answer its INVITE with 487 and stop ringing."""
        self.caller_gone.set()
        self._reject_caller(487)

    def fail(self, status: int, reason: str = "", headers: Iterable[tuple[str, str]] = ()) -> None:
        """The call could not be connected: the caller gets ``status`` and the call ends."""
        self._reject_caller(status, reason, headers)
        self._finish(f"{status} {reason}".strip())

    def _reject_caller(
        self, status: int, reason: str = "", headers: Iterable[tuple[str, str]] = ()
    ) -> None:
        if not self.a.answered:
            self.a.reject(status, reason, headers)
            self.a.detail.answered(status, self.clock())

    def leg_failed(self, leg: OutboundLeg, response: Response) -> None:
        """A callee's leg ended without being bridged: record it now."""
        leg.detail.answered(response.status, self.clock())
        leg.detail.hung_up(f"{response.status} {response.reason}", self.clock())
        self.record_leg(leg.detail)

    # after the answer ------------------------------------------------------------------------

    def other(self, leg: Leg) -> Leg | None:
        if leg is self.a:
            return self.b
        if leg is self.b:
            return self.a
        return None

    async def on_request(self, leg: Leg, request: Request, handle: ServerTransactionHandle) -> None:
        method = request.method
        if method == "BYE":
            leg.respond(request, handle, make_response(request, 200))
            if self.transfers is not None:
                self.transfers.leg_gone(leg)
            await self.hang_up(f"BYE from {'caller' if leg is self.a else 'callee'}", by=leg)
            return
        if self.transfers is not None and method == "REFER":
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
        if method == "INVITE" and (leg in self._relaying_invite or other in self._relaying_invite):
            leg.respond(request, handle, make_response(request, 491))
            return
        if method == "INVITE":
            self._relaying_invite.add(leg)
        try:
            answer = await other.send(method, body=request.body, headers=relayed_headers(request))
        except (LocalProtocolError, OSError, ConnectionError) as error:
            log.info("relaying %s on %r failed: %s", method, self, error)
            answer = make_response(request, 500)
        finally:
            self._relaying_invite.discard(leg)
        contact = leg.contact if method in ("INVITE", "UPDATE") else None
        leg.respond(request, handle, mirrored_response(request, answer, contact=contact))
        if answer.status in (408, 481):
            await self.hang_up(f"{answer.status} on the other leg", by=None)

    async def on_ack(self, leg: Leg, ack: Request) -> None:
        """Pass the answer of a delayed offer on to the leg whose ACK waits for it."""
        other = self.other(leg)
        if other is not None:
            await other.complete_ack(ack.body, ack.headers.get("Content-Type"))

    async def on_dialog_lost(self, leg: Leg, reason: str) -> None:
        await self.hang_up(reason, by=leg)

    async def hang_up(self, reason: str, *, by: Leg | None = None) -> None:
        """End the call: BYE on every confirmed leg except ``by`` (which already ended)."""
        if self.ended.is_set():
            return
        if not self.answered:
            self.caller_gone.set()
            self._reject_caller(487 if by is self.a else 480)
        now = self.clock()
        byes = []
        for leg in (self.a, self.b):
            if leg is None:
                continue
            leg.detail.hung_up(reason, now)
            if leg is by:
                leg.forget()
            else:
                byes.append(leg.bye())
        self._finish(reason)
        await asyncio.gather(*byes)

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
        for leg in (self.a, self.b):
            if leg is not None:
                leg.detail.hung_up(reason, now)
                self.record_leg(leg.detail)
        self.publish("call.ended", reason=reason, answered=self.answered)
        self._on_end(self)

    # records and events ----------------------------------------------------------------------

    def record_leg(self, detail: LegDetail) -> None:
        if detail.leg_id not in self._recorded:
            self._recorded.add(detail.leg_id)
            self.events.record_call_detail(detail.payload())

    def publish(self, kind: str, **data: Any) -> None:
        detail = self.a.detail
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
