"""Routing one admitted call: running its dialplan (or ringing its account) and dialling.

A ``CallSession`` is what a dialplan's ``sys.*`` calls act on (through
``sipcore.dialplan_host.CallDialplanHost``). ``dial`` judges every destination against the
customer's destination policy before any INVITE leaves (a refused one is logged, shown in
the monitor, and makes the Dial ``Blocked`` when nothing else is left), resolves the rest to
concrete targets and rings them with a ``Fork``. The first answer is bridged to the caller.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from sipcore.b2bua.admission import Admitted
from sipcore.b2bua.background import Background
from sipcore.b2bua.call import Call
from sipcore.b2bua.detail import OUT, LegDetail
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
from sipcore.message import Request, new_call_id, new_tag

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


class CallSession:
    def __init__(
        self, *, services: SessionServices, call: Call, admitted: Admitted, settings: DialSettings
    ) -> None:
        self.services = services
        self.call = call
        self.admitted = admitted
        self.settings = settings

    # what a dialplan may do ------------------------------------------------------------------

    async def dial(
        self, dialstring: DialPlanString, ring_timeout: float, answered_limit: int | None
    ) -> DialResult:
        if self.call.caller_gone.is_set():
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
                return DialResult(name=DialResultName.BLOCKED, status=403, reason="Forbidden")
            first = unreachable[0] if unreachable else Unreachable(480, "No destination")
            name = _UNREACHABLE_RESULTS.get(first.status, DialResultName.FAILED)
            return DialResult(name=name, status=first.status, reason=first.reason)
        outcome = await self._fork(groups, ring_timeout)
        return self._connect(outcome, answered_limit)

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

    def respond(self, code: int, reason: str) -> None:
        self.call.fail(code, reason)

    def log(self, text: str) -> None:
        dialplan = self.admitted.dialplan
        self.publish("dialplan.log", text=text, dialplan=dialplan.name if dialplan else "")

    def set_from(self, name: str | None, user: str | None, host: str | None) -> None:
        override = FromIdentity(name=name, user=user, host=host).over(self.settings.from_override)
        self.settings = replace(self.settings, from_override=override)

    def add_header(self, name: str, value: str) -> None:
        self.settings = replace(self.settings, headers=(*self.settings.headers, (name, value)))

    def publish(self, kind: str, **data: object) -> None:
        data = {"call_id": self.call.a.detail.call_id, **data}
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
            leg_finished=self.call.leg_failed,
            caller_gone=self.call.caller_gone,
            background=self.services.background,
        )
        return await fork.run(groups, min(ring_timeout, self.services.ring_timeout))

    def _connect(self, outcome: ForkResult, answered_limit: int | None) -> DialResult:
        if outcome.winner is None or outcome.answer is None or outcome.target is None:
            return outcome.result
        asked = (outcome.target.answered_limit, answered_limit)
        limit = min([self.services.max_call_seconds, *(seconds for seconds in asked if seconds)])
        if not self.call.connect(outcome.winner, outcome.answer, answered_limit=limit):
            return DialResult(name=DialResultName.CANCELLED, status=487, reason="Cancelled")
        self.call.transfer = outcome.target.transfer
        return outcome.result

    async def _start_leg(self, target: Target) -> OutboundLeg:
        services = self.services
        local = await services.endpoint.local_address(target.peer)
        contact = contact_for(local)
        caller_invite = self.call.a.invite
        max_forwards = (caller_invite.max_forwards or 70) - 1
        call_id = new_call_id()
        from_header = f"{target.from_address};tag={new_tag()}"
        to_header = f"<{target.request_uri}>"
        headers = [
            ("Max-Forwards", str(max_forwards)),
            ("From", from_header),
            ("To", to_header),
            ("Call-ID", call_id),
            ("CSeq", "1 INVITE"),
            ("Contact", contact),
            ("Allow", ALLOW),
            ("User-Agent", services.user_agent),
            *relayed_headers(caller_invite),
            *target.headers,
        ]
        invite = Request("INVITE", target.request_uri, headers, caller_invite.body)
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
            bridged_call_id=caller_invite.call_id,
            local_socket=f"{local.transport}:{local.hostport}",
            remote_socket=f"{target.peer.transport}:{target.peer.hostport}",
        )
        return OutboundLeg(
            invite=invite,
            auth=target.auth() if target.auth is not None else None,
            on_progress=self.call.progress,
            endpoint=services.endpoint,
            registry=services.registry,
            background=services.background,
            peer=target.peer,
            contact=contact,
            detail=detail,
        )
