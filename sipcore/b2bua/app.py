"""The back-to-back user agent: new INVITEs, CANCELs, in-dialogue requests, stray 2xx.

A new INVITE is checked (Max-Forwards ``483``, a loop or merged request ``482``, missing
headers ``400``, a required extension ``420``: we support none), admitted
(``sipcore.b2bua.admission``) and held to the owner's limits (concurrent calls per
account, calls per minute per customer: ``503``), then routed by its dialplan in the
sandbox pool (``500`` if the sandbox dies, ``480`` past the customer's
execution limit) or, without one, by ringing the called account's contacts. While the
worker drains, new INVITEs get ``503`` and ``drain`` ends the calls left after the grace
period with BYE on both legs.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

from sipcore.account_auth import AuthReport
from sipcore.auth import DigestServer
from sipcore.b2bua.admission import Admission, Admitted, Refused
from sipcore.b2bua.background import Background
from sipcore.b2bua.call import Call
from sipcore.b2bua.crossworker import CrossWorker
from sipcore.b2bua.hairpin import HairpinMark
from sipcore.b2bua.leg import OWNER_WAIT, InboundLeg, OutboundLeg
from sipcore.b2bua.registry import DialogRegistry
from sipcore.b2bua.relay import reason_text
from sipcore.b2bua.session import CallSession, SessionServices
from sipcore.b2bua.targets import DialSettings, TargetResolver, caller_identity
from sipcore.b2bua.transfers import CallTransfers
from sipcore.dialog import DialogId
from sipcore.dialplan import (
    CallContext,
    DialplanPool,
    DialplanRequest,
    Direction,
    OutcomeKind,
)
from sipcore.dialplan_host import CallDialplanHost
from sipcore.directory import Directory
from sipcore.endpoint import Endpoint, ServerTransactionHandle
from sipcore.errors import RemoteProtocolError
from sipcore.events import EventSink
from sipcore.message import ParseError, Request, Response
from sipcore.policy import CallRateLimiter, ConcurrentCalls
from sipcore.transport import Peer

log = logging.getLogger(__name__)

_WILDCARDS = {"0.0.0.0": "127.0.0.1", "::": "::1"}


@dataclass(frozen=True, slots=True, kw_only=True)
class B2buaConfig:
    worker_id: str
    user_agent: str = "sipplatform"
    ring_timeout: float = 180.0
    max_call_seconds: float = 4 * 3600.0


class B2bua:
    def __init__(
        self,
        *,
        endpoint: Endpoint,
        directory: Directory,
        events: EventSink,
        pool: DialplanPool | None,
        digest: DigestServer,
        hairpin: HairpinMark,
        config: B2buaConfig,
        clock: Callable[[], float],
        auth_report: AuthReport | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.events = events
        self.pool = pool
        self.config = config
        self.clock = clock
        self.registry = DialogRegistry()
        self.background = Background()
        self.hairpin = hairpin
        self.admission = Admission(
            directory=directory,
            digest=digest,
            hairpin=hairpin,
            clock=clock,
            auth_report=auth_report,
        )
        self.concurrent = ConcurrentCalls()
        self.rate = CallRateLimiter()
        self.services = SessionServices(
            endpoint=endpoint,
            directory=directory,
            events=events,
            registry=self.registry,
            background=self.background,
            resolver=TargetResolver(directory, clock, self._own_address),
            hairpin=hairpin,
            clock=clock,
            worker_id=config.worker_id,
            user_agent=config.user_agent,
            ring_timeout=config.ring_timeout,
            max_call_seconds=config.max_call_seconds,
            concurrent=self.concurrent,
            rate=self.rate,
        )
        self.calls: set[Call] = set()
        self.cross: CrossWorker | None = None
        """Transfers spanning two workers (set by the worker when it runs in a cluster)."""
        self.draining = False
        self._by_invite: dict[ServerTransactionHandle, Call] = {}
        self._invites: dict[tuple[str, str, int], ServerTransactionHandle] = {}
        self._call_ended = asyncio.Event()

    @property
    def active_calls(self) -> int:
        return len(self.calls)

    # new calls -------------------------------------------------------------------------------

    async def on_invite(self, request: Request, handle: ServerTransactionHandle) -> None:
        if self.draining:
            handle.reply(503, headers=[("Retry-After", "30")])
            return
        try:
            max_forwards = request.max_forwards
            call_id, from_tag, cseq = request.call_id, request.from_addr.tag or "", request.cseq
            _ = request.to_addr  # parsed here, so a malformed To is refused with 400
            has_contact = bool(request.contacts)
            required = request.require
        except ParseError as error:
            handle.reply(400, reason_text(error))
            return
        if max_forwards is not None and max_forwards <= 0:
            handle.reply(483)
            return
        if not has_contact:
            handle.reply(400, "Missing Contact")
            return
        if required:
            handle.reply(420, headers=[("Unsupported", ", ".join(sorted(required)))])
            return
        if self.cross is not None and self.cross.is_takeover(request):
            await self.cross.take_over(request, handle)
            return
        key = (call_id, from_tag, cseq.seq)
        merged = self._invites.get(key)
        ours = self.registry.find_invite(call_id, from_tag) is not None
        looped = ours and not self.hairpin.is_marked(request)
        if looped or (merged is not None and merged is not handle):
            handle.reply(482)
            return
        self._invites[key] = handle
        try:
            await self._admit_and_route(request, handle)
        finally:
            self._invites.pop(key, None)
            self._by_invite.pop(handle, None)

    async def _admit_and_route(self, request: Request, handle: ServerTransactionHandle) -> None:
        admitted = await self.admission.admit(request, handle.client)
        if handle.final_sent:
            return  # cancelled while the Directory answered
        if isinstance(admitted, Refused):
            handle.reply(admitted.status, admitted.reason or None, headers=list(admitted.headers))
            return
        owner, customer = admitted.owner, admitted.customer
        decision = self.concurrent.acquire(owner.id, owner.max_concurrent_calls)
        if decision.allowed:
            rate = self.rate.try_start(customer.id, customer.max_calls_per_minute, self.clock())
            if not rate.allowed:
                self.concurrent.release(owner.id)
                decision = rate
        if not decision.allowed:
            handle.reply(decision.refusal_status, decision.detail[:100] or None)
            return
        try:
            call = await self._new_call(request, handle, admitted)
        except (OSError, ConnectionError):
            self.concurrent.release(owner.id)
            raise
        await self._route(call, admitted)

    async def _new_call(
        self, request: Request, handle: ServerTransactionHandle, admitted: Admitted
    ) -> Call:
        """The call of an admitted INVITE; it holds one of the owner's concurrent calls."""
        leg = InboundLeg.for_invite(
            request,
            handle,
            local=await self.endpoint.local_address(handle.source),
            endpoint=self.endpoint,
            registry=self.registry,
            background=self.background,
            created_at=self.clock(),
            worker_id=self.config.worker_id,
            customer_id=admitted.customer.id,
            destination=str(request.uri),
            account_id=admitted.owner.id,
            provider_id=admitted.provider.id if admitted.provider else None,
        )
        leg.party_account_id = admitted.caller.id if admitted.caller is not None else None
        call = Call(
            a=leg,
            customer_id=admitted.customer.id,
            events=self.events,
            background=self.background,
            clock=self.clock,
            host=self,
            account=admitted.owner,
        )
        self.calls.add(call)
        self._by_invite[handle] = call
        call.publish("call.new", direction=admitted.direction.value, account=admitted.owner.aor)
        return call

    def call_ended(self, call: Call) -> None:
        self.calls.discard(call)
        self.concurrent.release(call.account.id)
        self._call_ended.set()

    def transfers_for(self, call: Call) -> CallTransfers:
        return CallTransfers(
            call=call,
            owner=call.account,
            services=self.services,
            pool=self.pool,
            events=self.events,
            background=self.background,
            clock=self.clock,
            worker_id=self.config.worker_id,
            cross=self.cross,
        )

    async def _route(self, call: Call, admitted: Admitted) -> None:
        invite = call.a.invite
        incoming = admitted.direction is Direction.IN
        settings = DialSettings(
            customer_id=admitted.customer.id,
            home_domain=admitted.owner.domain,
            caller=caller_identity(invite.from_addr),
            ringing_for=admitted.owner.id if incoming else None,
        )
        session = CallSession(
            services=self.services, call=call, admitted=admitted, settings=settings
        )
        try:
            if admitted.dialplan is None:
                result = await session.ring_owner()
                if result.status is not None and not call.answered:
                    call.fail(result.status, result.reason)
                return
            outcome = await self._run_dialplan(session, call, admitted)
            if outcome is not None and not call.answered:
                call.fail(outcome[0], outcome[1])
        except Exception:
            log.exception("routing %r failed", call)
            if not call.answered:
                call.fail(500, "Server Internal Error")
        finally:
            if not call.answered and not call.ended.is_set():
                call.fail(480)

    async def _run_dialplan(
        self, session: CallSession, call: Call, admitted: Admitted
    ) -> tuple[int, str] | None:
        """Run the dialplan; the final status for the caller unless it was answered."""
        assert admitted.dialplan is not None
        if self.pool is None:
            return (500, "No dialplan runtime")
        request = DialplanRequest(
            customer_id=admitted.customer.id,
            dialplan_name=admitted.dialplan.name,
            source=admitted.dialplan.source,
            call=_call_context(call.a.invite, admitted),
            execution_limit=admitted.customer.max_concurrent_executions or None,
        )
        outcome = await self.pool.run(request, CallDialplanHost(session))
        if outcome.kind is OutcomeKind.ANSWERED:
            return None
        if outcome.error:
            session.log(f"dialplan ended: {outcome.error}"[:1000])
        return (outcome.status or 500, outcome.reason)

    # requests for calls we hold ---------------------------------------------------------------

    def on_cancel(self, request: Request, handle: ServerTransactionHandle) -> None:
        invite = self.endpoint.invite_for_cancel(request)
        if invite is None:
            handle.reply(481)
            return
        handle.reply(200)
        call = self._by_invite.get(invite)
        if call is not None and not call.answered:
            call.caller_cancelled()
        elif call is None and not invite.final_sent:
            invite.reply(487)

    async def on_in_dialog(self, request: Request, handle: ServerTransactionHandle) -> None:
        try:
            leg = self.registry.find(DialogId.from_incoming_request(request))
            if leg is None:
                handle.reply(481)
                return
            leg.receive(request)
        except RemoteProtocolError as error:
            handle.reply(error.status_hint)
            return
        except ParseError as error:
            handle.reply(400, reason_text(error))
            return
        owner = await leg.owned(OWNER_WAIT)
        if owner is None:
            handle.reply(481)
            return
        await owner.on_request(leg, request, handle)

    async def on_ack(self, request: Request) -> None:
        try:
            leg = self.registry.find(DialogId.from_incoming_request(request))
            if leg is None or leg.dialog is None:
                return
            leg.receive(request)
        except (ParseError, RemoteProtocolError) as error:
            log.debug("ACK ignored: %s", error)
            return
        if leg.owner is not None:
            await leg.owner.on_ack(leg, request)

    def on_stray_response(self, response: Response) -> None:
        """A retransmitted 2xx (ACK it again) or a 2xx from an unknown fork (ACK and BYE)."""
        try:
            if response.cseq.method != "INVITE" or not 200 <= response.status < 300:
                return
            leg = self.registry.find(DialogId.from_uac_message(response))
            if leg is not None and leg.dialog is not None:
                leg.resend_ack(response.cseq.seq)
                return
            sender = self.registry.find_invite(response.call_id, response.from_addr.tag or "")
            if isinstance(sender, OutboundLeg):
                sender.stray_2xx(response)
        except ParseError as error:
            log.debug("stray response ignored: %s", error)

    def _own_address(self) -> Peer | None:
        """A listener of ours to send hairpin legs to (a wildcard bind reached on loopback)."""
        listeners = self.endpoint.transports.listeners
        if not listeners:
            return None
        local = listeners[0]
        if local.host in _WILDCARDS:
            return Peer(local.transport, _WILDCARDS[local.host], local.port)
        return local

    # stopping --------------------------------------------------------------------------------

    async def drain(self, grace: float) -> None:
        """Refuse new calls, give active ones ``grace`` seconds, then hang the rest up."""
        self.draining = True
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace
        while self.calls and (remaining := deadline - loop.time()) > 0:
            self._call_ended.clear()
            try:
                async with asyncio.timeout(remaining):
                    await self._call_ended.wait()
            except TimeoutError:
                break
        await asyncio.gather(*(call.hang_up("worker shutting down") for call in list(self.calls)))

    async def close(self) -> None:
        await self.background.close()


def _call_context(invite: Request, admitted: Admitted) -> CallContext:
    from_addr, to_addr = invite.from_addr, invite.to_addr
    return CallContext(
        direction=admitted.direction,
        username=admitted.owner.username,
        uri_user=invite.uri.user or "",
        uri_host=invite.uri.host or "",
        from_name=from_addr.display_name or "",
        from_user=from_addr.uri.user or "",
        from_host=from_addr.uri.host or "",
        from_header=invite.headers.get("From") or "",
        to_name=to_addr.display_name or "",
        to_user=to_addr.uri.user or "",
        to_host=to_addr.uri.host or "",
        to_header=invite.headers.get("To") or "",
        method=invite.method,
        body=invite.body.decode("utf-8", "replace"),
    )
