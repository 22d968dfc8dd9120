"""Routing by dialplan: what a dialplan's ``sys.*`` calls do, and dialling for a party.

A ``DialSession`` is what a dialplan's ``sys.*`` calls act on (through
``sipcore.dialplan_host.CallDialplanHost``). ``dial`` judges every destination against the
customer's destination policy before any INVITE leaves (a refused one is logged, shown in
the monitor, and makes the Dial ``Blocked`` when nothing else is left), resolves the rest to
concrete targets and rings them with a ``Fork``. The first answer goes to the session's
``DialParty``: whoever the legs are dialled for. ``CallSession`` dials for a caller's
``Call`` (its offer and end-to-end headers go into every INVITE, the answer is bridged to the
caller); ``sipcore.b2bua.target_call.TargetCall`` dials a transfer's target without an offer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Protocol

from sipcore.b2bua.admission import Admitted
from sipcore.b2bua.background import Background
from sipcore.b2bua.detail import OUT, LegDetail
from sipcore.b2bua.flag import Signal
from sipcore.b2bua.forking import Fork, ForkResult, Target
from sipcore.b2bua.hairpin import HairpinMark
from sipcore.b2bua.leg import OutboundLeg, contact_for
from sipcore.b2bua.registry import DialogRegistry
from sipcore.b2bua.relay import ALLOW, relayed_headers
from sipcore.b2bua.targets import DialSettings, FromIdentity, TargetResolver, Unreachable
from sipcore.dialplan import DialResult, DialResultName
from sipcore.dialstring import DialPlanString, TargetKind
from sipcore.directory import Directory
from sipcore.endpoint import Endpoint
from sipcore.events import EventSink, LiveEvent
from sipcore.message import Request, Response, new_call_id, new_tag
from sipcore.policy import CallRateLimiter, ConcurrentCalls

if TYPE_CHECKING:
    # call.py reaches this module through transfers.py and target_call.py
    from sipcore.b2bua.call import Call

_UNREACHABLE_RESULTS = {480: DialResultName.NO_ANSWER, 486: DialResultName.BUSY}


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionServices:
    """What every session shares (one set per worker)."""

    endpoint: Endpoint
    directory: Directory
    events: EventSink
    registry: DialogRegistry
    background: Background
    resolver: TargetResolver
    hairpin: HairpinMark
    clock: Callable[[], float]
    worker_id: str
    user_agent: str
    ring_timeout: float
    max_call_seconds: float
    """Every answered call ends after this long, ``cd`` or not: a caller that vanished
    without BYE (no session timers here) cannot hold a call forever."""
    concurrent: ConcurrentCalls
    """Active calls per account: the B2BUA's own counter, so a transfer's call counts too."""
    rate: CallRateLimiter
    """Call starts per customer: the B2BUA's own limiter."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Origin:
    """What every INVITE dialled for a party carries from it."""

    call_id: str
    """The party's Call-ID: events name it, each leg's CDR is bridged to it."""
    body: bytes
    """The offer (empty: the callee makes the offer in its 2xx, RFC 3725 flow I)."""
    headers: tuple[tuple[str, str], ...]
    """End-to-end headers (Content-Type of the body, Referred-By, ...)."""
    max_forwards: int


class DialParty(Protocol):
    """Whoever a session dials for: a caller's call, or a transfer's target call."""

    @property
    def origin(self) -> Origin: ...

    @property
    def caller_gone(self) -> Signal:
        """Set when nobody wants a leg any more: ringing legs are cancelled, Dials end."""
        ...

    def progress(self, leg: OutboundLeg, response: Response) -> None:
        """A leg rings or sends early media (180/183)."""

    def leg_failed(self, leg: OutboundLeg, response: Response) -> None:
        """A leg ended without winning (its CDR is due)."""

    def answered(
        self, leg: OutboundLeg, answer: Response, target: Target, answered_limit: float
    ) -> bool:
        """``leg`` won with ``answer``; False when the party no longer takes it (the party
        has then recorded the leg and hung it up)."""
        ...

    def respond(self, status: int, reason: str) -> None:
        """The dialplan ended the attempt with ``sys.Respond``."""


class DialSession:
    """The ``sys.*`` calls of one dialplan execution, dialling for ``party``."""

    def __init__(
        self,
        *,
        services: SessionServices,
        party: DialParty,
        settings: DialSettings,
        dialplan_name: str,
    ) -> None:
        self.services = services
        self.party = party
        self.settings = settings
        self.dialplan_name = dialplan_name

    # what a dialplan may do ------------------------------------------------------------------

    async def dial(
        self, dialstring: DialPlanString, ring_timeout: float, answered_limit: int | None
    ) -> DialResult:
        if self.party.caller_gone.is_set():
            return DialResult(name=DialResultName.CANCELLED, status=487, reason="Cancelled")
        rules = await self.services.directory.destination_rules(self.settings.customer_id)
        groups: list[list[Target]] = []
        blocked: str | None = None
        unreachable: list[Unreachable] = []
        for group in dialstring.groups:
            targets: list[Target] = []
            for leg in group:
                if leg.target_kind is not TargetKind.LOCAL:
                    decision = rules.judge(leg.user)
                    if not decision.allowed:
                        blocked = decision.detail
                        self.log(f"blocked {leg.user}@{leg.host}: {decision.detail}")
                        self.publish("call.blocked", destination=f"{leg.user}@{leg.host}")
                        continue
                try:
                    targets += await self.services.resolver.resolve(leg, self.settings)
                except Unreachable as error:
                    self.log(f"cannot dial {leg.user}@{leg.host}: {error.reason}")
                    unreachable.append(error)
            if targets:
                groups.append(targets)
        if not groups:
            if blocked is not None:
                return DialResult(
                    name=DialResultName.BLOCKED, status=403, reason="Destination blocked by policy"
                )
            first = unreachable[0] if unreachable else Unreachable(480, "No destination")
            name = _UNREACHABLE_RESULTS.get(first.status, DialResultName.FAILED)
            return DialResult(name=name, status=first.status, reason=first.reason)
        outcome = await self._fork(groups, ring_timeout)
        return self._connect(outcome, answered_limit)

    def respond(self, code: int, reason: str) -> None:
        self.party.respond(code, reason)

    def log(self, text: str) -> None:
        self.publish("dialplan.log", text=text, dialplan=self.dialplan_name)

    def set_from(self, name: str | None, user: str | None, host: str | None) -> None:
        override = FromIdentity(name=name, user=user, host=host).over(self.settings.from_override)
        self.settings = replace(self.settings, from_override=override)

    def add_header(self, name: str, value: str) -> None:
        self.settings = replace(self.settings, headers=(*self.settings.headers, (name, value)))

    def publish(self, kind: str, **data: object) -> None:
        data = {"call_id": self.party.origin.call_id, **data}
        self.services.events.publish(
            LiveEvent(
                kind=kind,
                customer_id=self.settings.customer_id,
                data=data,
                at=self.services.clock(),
            )
        )

    # dialling --------------------------------------------------------------------------------

    async def _fork(self, groups: list[list[Target]], ring_timeout: float) -> ForkResult:
        fork = Fork(
            start_leg=self._start_leg,
            leg_finished=self.party.leg_failed,
            caller_gone=self.party.caller_gone,
            background=self.services.background,
        )
        return await fork.run(groups, min(ring_timeout, self.services.ring_timeout))

    def _connect(self, outcome: ForkResult, answered_limit: int | None) -> DialResult:
        if outcome.winner is None or outcome.answer is None or outcome.target is None:
            return outcome.result
        asked = (outcome.target.answered_limit, answered_limit)
        limit = min([self.services.max_call_seconds, *(seconds for seconds in asked if seconds)])
        if not self.party.answered(outcome.winner, outcome.answer, outcome.target, limit):
            return DialResult(name=DialResultName.CANCELLED, status=487, reason="Cancelled")
        return outcome.result

    async def _start_leg(self, target: Target) -> OutboundLeg:
        services = self.services
        origin = self.party.origin
        local = await services.endpoint.local_address(target.peer)
        contact = contact_for(local)
        call_id = new_call_id()
        from_header = f"{target.from_address};tag={new_tag()}"
        to_header = f"<{target.request_uri}>"
        headers = [
            ("Max-Forwards", str(origin.max_forwards)),
            ("From", from_header),
            ("To", to_header),
            ("Call-ID", call_id),
            ("CSeq", "1 INVITE"),
            ("Contact", contact),
            ("Allow", ALLOW),
            ("User-Agent", services.user_agent),
            *origin.headers,
            *target.headers,
        ]
        invite = Request("INVITE", target.request_uri, headers, origin.body)
        if target.hairpin:
            services.hairpin.mark(invite)
        detail = LegDetail(
            call_id=call_id,
            direction=OUT,
            created_at=services.clock(),
            worker_id=services.worker_id,
            customer_id=self.settings.customer_id,
            account_id=target.account_id,
            provider_id=target.provider_id,
            from_header=from_header,
            to_header=to_header,
            destination=target.description,
            bridged_call_id=origin.call_id,
            local_socket=f"{local.transport}:{local.hostport}",
            remote_socket=f"{target.peer.transport}:{target.peer.hostport}",
        )
        return OutboundLeg(
            invite=invite,
            auth=target.auth() if target.auth is not None else None,
            on_progress=self.party.progress,
            endpoint=services.endpoint,
            registry=services.registry,
            background=services.background,
            peer=target.peer,
            contact=contact,
            detail=detail,
        )


class CallParty:
    """A caller's ``Call`` as the party its dialplan dials for: the caller's offer and
    end-to-end headers go into every INVITE and the answer is bridged to the caller."""

    def __init__(self, call: Call) -> None:
        self.call = call
        invite = call.caller.invite
        self.origin = Origin(
            call_id=invite.call_id,
            body=invite.body,
            headers=tuple(relayed_headers(invite)),
            max_forwards=(invite.max_forwards or 70) - 1,
        )

    @property
    def caller_gone(self) -> Signal:
        return self.call.caller_gone

    def progress(self, leg: OutboundLeg, response: Response) -> None:
        self.call.progress(leg, response)

    def leg_failed(self, leg: OutboundLeg, response: Response) -> None:
        self.call.leg_failed(leg, response)

    def answered(
        self, leg: OutboundLeg, answer: Response, target: Target, answered_limit: float
    ) -> bool:
        if not self.call.connect(leg, answer, answered_limit=answered_limit):
            return False
        self.call.transfer = target.transfer
        return True

    def respond(self, status: int, reason: str) -> None:
        self.call.fail(status, reason)


class CallSession(DialSession):
    """The session of an admitted call: its dialplan's Dials, or ringing the called account."""

    def __init__(
        self, *, services: SessionServices, call: Call, admitted: Admitted, settings: DialSettings
    ) -> None:
        dialplan = admitted.dialplan
        super().__init__(
            services=services,
            party=CallParty(call),
            settings=settings,
            dialplan_name=dialplan.name if dialplan else "",
        )
        self.call = call
        self.admitted = admitted

    async def ring_owner(self) -> DialResult:
        """No dialplan: ring every registered contact of the called account."""
        try:
            targets = await self.services.resolver.account_targets(
                self.admitted.owner, None, self.settings, follow_dialplan=False
            )
        except Unreachable as error:
            name = _UNREACHABLE_RESULTS.get(error.status, DialResultName.FAILED)
            return DialResult(name=name, status=error.status, reason=error.reason)
        outcome = await self._fork([targets], self.services.ring_timeout)
        return self._connect(outcome, None)
