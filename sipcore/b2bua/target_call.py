"""A server-side blind transfer's new call to its target (``tr=c``, TRANSFER.md steps 1 and 3).

``check_place_call`` gathers the facts ``sipcore.transfer.checks.judge_place_call`` needs
before the REFER is accepted. ``TargetCall`` then runs the transferor's owner's ``transfer``
dialplan as an outgoing call of that account, with the Refer-To user as the destination
(``${dst}``, ``req.URI.User``). Its Dials go through the same ``DialSession`` as every call,
so each destination passes the owner's customer's destination policy first; what differs is
the party they dial for (``TargetCall`` itself): every INVITE goes out without a session
description and with the REFER's Referred-By (RFC 3725 flow I, RFC 3892), the transferee's
identity as From. The transferee is not touched: the target's 2xx offer goes to the
listener with the winning leg, whose ACK ``OutboundLeg`` holds back until the transfer brings
the transferee's answer (``complete_ack``).

While it runs the target call holds one of the owner's concurrent calls and counts as one
call start of the customer. It gives the call back when it fails or is cancelled, and when
it is answered: the answered leg then joins the transferred call, which already holds one.
Listener callbacks never run inside ``start`` or ``cancel``.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Protocol

from sipcore.b2bua.forking import Target
from sipcore.b2bua.leg import OutboundLeg
from sipcore.b2bua.session import DialSession, Origin, SessionServices
from sipcore.b2bua.targets import DialSettings, caller_identity
from sipcore.dialplan import (
    CallContext,
    DialplanPool,
    DialplanRequest,
    Direction,
    OutcomeKind,
)
from sipcore.dialplan_host import CallDialplanHost
from sipcore.directory import AccountRecord
from sipcore.message import URI, Address, ParseError, Response
from sipcore.transfer.checks import TRANSFER_DIALPLAN, PlaceCallFacts

log = logging.getLogger(__name__)


class TargetCallListener(Protocol):
    """Who hears how the target call goes: the transfer that placed it."""

    def target_progress(self, status: int, reason: str) -> None:
        """The target rings or sends early media (180/183, never 100)."""

    def target_answered(self, leg: OutboundLeg, offer: bytes) -> None:
        """The target answered on ``leg`` (confirmed, owner None: set it here) with ``offer``;
        the leg's ACK waits for ``leg.complete_ack(answer, content_type)``."""

    def target_failed(self, status: int, reason: str) -> None:
        """The target call ended without an answer: ``status`` is the real outcome."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TargetCallRequest:
    owner: AccountRecord
    """The transferor's owner: its customer's ``transfer`` dialplan and policy apply."""
    target_user: str
    """The Refer-To user part: the dialplan's destination (``req.URI.User``, ``${dst}``)."""
    target_uri: str
    """The Refer-To URI (normalised, no headers): the dialplan's ``req.URI``."""
    referred_by: str
    """Copied as Referred-By into every INVITE the transfer places (RFC 3892)."""
    caller: str
    """The From the target should see: the transferee's identity (a name-addr)."""
    related_call_id: str
    """The REFER's Call-ID: the call events and each target leg's CDR name it."""
    max_forwards: int = 70
    """Max-Forwards of every INVITE the transfer places."""

    def __post_init__(self) -> None:
        try:
            Address.parse(self.caller)
            URI.parse(self.target_uri)
        except ParseError as error:
            raise ValueError(f"unusable transfer request: {error.reason}") from None
        if not self.referred_by or any(c in self.referred_by for c in "\r\n"):
            raise ValueError(f"transfer Referred-By {self.referred_by[:100]!r} is not one line")
        if not 0 < self.max_forwards <= 255:
            raise ValueError(f"transfer Max-Forwards {self.max_forwards} is out of range")


async def check_place_call(
    services: SessionServices,
    pool: DialplanPool | None,
    owner: AccountRecord,
    target_user: str,
) -> PlaceCallFacts:
    """The facts ``judge_place_call`` decides on: may ``owner``'s transfer to ``target_user``
    be attempted now. Nothing is taken: ``TargetCall`` acquires the call when it starts."""
    customer = owner.customer
    dialplan = await services.directory.find_dialplan(customer.id, TRANSFER_DIALPLAN)
    rules = await services.directory.destination_rules(customer.id)
    customer_limit = customer.max_concurrent_executions
    return PlaceCallFacts(
        dialplan_exists=dialplan is not None,
        runtime_available=pool is not None,
        executions_active=pool.active_executions(customer.id) if pool is not None else 0,
        execution_limit=(
            pool.execution_limit(customer_limit) if pool is not None else customer_limit
        ),
        destination=rules.judge(target_user),
        concurrent=services.concurrent.allows(owner.id, owner.max_concurrent_calls),
        rate=services.rate.allows(customer.id, customer.max_calls_per_minute, services.clock()),
    )


class TargetCall:
    """The transfer's call to its target; exactly one of ``target_answered`` and
    ``target_failed`` is called, once, unless ``cancel`` came first (then neither)."""

    def __init__(
        self,
        *,
        services: SessionServices,
        pool: DialplanPool | None,
        request: TargetCallRequest,
        listener: TargetCallListener,
    ) -> None:
        self.services = services
        self.pool = pool
        self.request = request
        self.listener = listener
        self.origin = Origin(
            call_id=request.related_call_id,
            body=b"",
            headers=(("Referred-By", request.referred_by),),
            max_forwards=request.max_forwards,
        )
        self.caller_gone = asyncio.Event()
        self.answered_limit: float | None = None
        """Set before ``target_answered``: the seconds the answered call may last (the
        winning leg's ``cd``, the Dial's answered_limit, the worker's maximum)."""
        self.leg_transfer: str | None = None
        """Set before ``target_answered``: the winning dial-string leg's ``tr`` option."""
        self._task: asyncio.Task[None] | None = None
        self._settled = False
        self._cancelled = False
        self._holding = False
        self._last_progress: int | None = None
        self._recorded: set[str] = set()

    def __repr__(self) -> str:
        return f"<TargetCall {self.request.target_user} for {self.request.related_call_id}>"

    def start(self) -> None:
        """Run the owner's ``transfer`` dialplan (in the background; returns at once)."""
        if self._task is not None:
            raise RuntimeError(f"{self!r} was already started")
        self._task = self.services.background.spawn(self._run(), f"transfer call {self!r}")

    def cancel(self) -> None:
        """The transfer gave up: ringing legs get CANCEL, no more legs are dialled, and an
        answer that still comes is acknowledged and hung up. No callback follows. After
        ``target_answered`` the leg is the transfer's: this does nothing to it."""
        self._cancelled = True
        self.caller_gone.set()

    # running the dialplan ----------------------------------------------------------------------

    async def _run(self) -> None:
        try:
            failure = await self._attempt()
        except Exception:
            log.exception("%r failed", self)
            failure = (500, "Server Internal Error")
        finally:
            self._release()
        if failure is not None:
            self._fail(*failure)

    async def _attempt(self) -> tuple[int, str] | None:
        """Run the dialplan; the failure to report, or None when answered (or cancelled)."""
        services, owner = self.services, self.request.owner
        customer = owner.customer
        dialplan = await services.directory.find_dialplan(customer.id, TRANSFER_DIALPLAN)
        if dialplan is None:
            return (403, f"No {TRANSFER_DIALPLAN} dialplan")
        if self.pool is None:
            return (500, "No dialplan runtime")
        if self._cancelled:
            return None
        held = services.concurrent.acquire(owner.id, owner.max_concurrent_calls)
        if not held.allowed:
            return (held.refusal_status, held.detail)
        self._holding = True
        rate = services.rate.try_start(customer.id, customer.max_calls_per_minute, services.clock())
        if not rate.allowed:
            return (rate.refusal_status, rate.detail)
        session = DialSession(
            services=services, party=self, settings=self._settings(), dialplan_name=dialplan.name
        )
        request = DialplanRequest(
            customer_id=customer.id,
            dialplan_name=dialplan.name,
            source=dialplan.source,
            call=self._context(),
            execution_limit=customer.max_concurrent_executions or None,
        )
        outcome = await self.pool.run(request, CallDialplanHost(session))
        if outcome.kind is OutcomeKind.ANSWERED:
            return None
        if outcome.error:
            session.log(f"dialplan ended: {outcome.error}"[:1000])
        return (outcome.status or 500, outcome.reason)

    def _settings(self) -> DialSettings:
        owner = self.request.owner
        return DialSettings(
            customer_id=owner.customer.id,
            home_domain=owner.domain,
            caller=caller_identity(Address.parse(self.request.caller)),
        )

    def _context(self) -> CallContext:
        request = self.request
        caller = Address.parse(request.caller)
        target = URI.parse(request.target_uri)
        return CallContext(
            direction=Direction.OUT,
            username=request.owner.username,
            uri_user=request.target_user,
            uri_host=target.host or "",
            from_name=caller.display_name or "",
            from_user=caller.uri.user or "",
            from_host=caller.uri.host or "",
            from_header=request.caller,
            to_user=target.user or "",
            to_host=target.host or "",
            to_header=f"<{request.target_uri}>",
        )

    # the DialParty the session dials for ------------------------------------------------------

    def progress(self, leg: OutboundLeg, response: Response) -> None:
        leg.detail.progress(response.status, self.services.clock())
        if self._settled or self._cancelled or response.status == self._last_progress:
            return  # forked legs ringing alike are one piece of news
        self._last_progress = response.status
        self.listener.target_progress(response.status, response.reason)

    def leg_failed(self, leg: OutboundLeg, response: Response) -> None:
        now = self.services.clock()
        leg.detail.answered(response.status, now)
        leg.detail.hung_up(f"{response.status} {response.reason}", now)
        self._record(leg)

    def answered(
        self, leg: OutboundLeg, answer: Response, target: Target, answered_limit: float
    ) -> bool:
        now = self.services.clock()
        leg.detail.answered(answer.status, now)
        if self._settled or self._cancelled:
            self._hang_up(leg, "transfer cancelled")
            return False
        if not answer.body:
            # RFC 3725 flow I: a 2xx to an INVITE without an offer must carry one; without it
            # there is nothing to re-INVITE the transferee with.
            self._hang_up(leg, "2xx without a session description")
            self._fail(502, "Answer Without Session Description")
            return False
        self._settled = True
        self._release()
        self.answered_limit = answered_limit
        self.leg_transfer = target.transfer
        self.listener.target_answered(leg, answer.body)
        return True

    def respond(self, status: int, reason: str) -> None:
        self._fail(status, reason)

    # endings -------------------------------------------------------------------------------

    def _fail(self, status: int, reason: str) -> None:
        self.caller_gone.set()
        if self._settled or self._cancelled:
            return
        self._settled = True
        self.listener.target_failed(status, reason)

    def _hang_up(self, leg: OutboundLeg, reason: str) -> None:
        leg.detail.hung_up(reason, self.services.clock())
        self._record(leg)
        self.services.background.spawn(leg.bye(), f"hanging up {leg!r}: {reason}")

    def _record(self, leg: OutboundLeg) -> None:
        if leg.detail.leg_id not in self._recorded:
            self._recorded.add(leg.detail.leg_id)
            self.services.events.record_call_detail(leg.detail.payload())

    def _release(self) -> None:
        if self._holding:
            self._holding = False
            self.services.concurrent.release(self.request.owner.id)
