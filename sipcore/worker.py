"""The SIP worker: one endpoint wired to the registrar, the B2BUA, the dialplan sandbox pool
and the provider registration agent.

This is the object ``manage.py sipworker`` and ``runplatform`` run: it reads the platform's
data through a ``Directory`` and reports through an ``EventSink``, so it imports no Django
and runs the same on the database-backed directory and on ``MemoryDirectory``. Requests are
dispatched by method: REGISTER to the registrar; INVITE, CANCEL, ACK and every request
inside a dialogue to the B2BUA; OPTIONS outside a dialogue is answered here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from sipcore.auth import DigestServer, NonceCounterStore
from sipcore.b2bua import B2bua, B2buaConfig
from sipcore.b2bua.background import Background
from sipcore.b2bua.crossworker import CrossWorker
from sipcore.b2bua.hairpin import HairpinMark
from sipcore.b2bua.relay import ALLOW, reason_text
from sipcore.cluster import ClusterConfig, ClusterMember
from sipcore.cluster.dialogues import RemoteDialogues
from sipcore.cluster.takeover import TakeoverSigner
from sipcore.dialplan import DialplanPool, SandboxLimits
from sipcore.directory import Directory
from sipcore.endpoint import Endpoint, EndpointConfig, ServerTransactionHandle
from sipcore.events import EventSink
from sipcore.message import ParseError, Request
from sipcore.provider_agent import AgentConfig, ProviderAgent
from sipcore.registrar import Registrar, RegistrarConfig
from sipcore.security import (
    BanPolicy,
    CounterStore,
    GateConfig,
    MemoryCounterStore,
    SecurityGate,
    SecurityService,
)
from sipcore.security.endpoint import SecuredEndpoint

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkerConfig:
    worker_id: str
    default_domain: str
    nonce_secret: bytes
    min_expires: int = 60
    max_expires: int = 3600
    default_expires: int = 600
    max_bindings: int = 10
    dialplan_pool_size: int = 2
    ring_timeout: float = 180.0
    drain_grace: float = 30.0
    max_call_seconds: float = 4 * 3600.0
    """Answered calls end (BYE both ways) after this long when no ``cd`` limit is shorter."""
    user_agent: str = "sipplatform"
    endpoint: EndpointConfig | None = None
    """Timers and transport limits; None: the defaults."""
    sandbox_limits: SandboxLimits | None = None
    """Limits of each dialplan sandbox process; None: the defaults."""
    binding_sweep_interval: float = 30.0
    """How often expired bindings are deleted (and ``registration.expired`` published)."""
    provider_poll_interval: float = 60.0
    provider_retry_base: float = 30.0
    provider_retry_max: float = 900.0
    register_providers: bool = True
    digest_algorithms: tuple[str, ...] = ("SHA-256", "MD5")
    cluster: ClusterConfig | None = None
    """State shared with the platform's other workers through Redis (dialogue ownership,
    presence, provider leases, forwarding and transfers between workers); None: a worker alone."""
    """Offered in this order (RFC 8760: strongest first). baresip 1.0 (libre) fails on any
    challenge it cannot answer, SHA-256 included: serving it needs ``("MD5",)``."""
    ban_policy: BanPolicy = field(default_factory=BanPolicy)
    """When failed authentications ban a source or lock an account, and for how long."""
    security_gate: GateConfig = field(default_factory=GateConfig)
    """Per-source request rate, scanner dropping, networks never banned."""
    security_refresh_interval: float = 1.0
    """How often the bans of the shared store (other workers', staff lifts) are reloaded."""


class SipWorker:
    def __init__(
        self,
        *,
        directory: Directory,
        events: EventSink,
        config: WorkerConfig,
        clock: Callable[[], float] = time.time,
        nonce_counters: NonceCounterStore | None = None,
        counter_store: CounterStore | None = None,
    ) -> None:
        """``nonce_counters``: where digest nonce counts are remembered (replay protection);
        ``counter_store``: failed-authentication counters and bans. Workers sharing load need
        shared stores (Redis); the defaults are in this process."""
        self.directory = directory
        self.events = events
        self.config = config
        self.clock = clock
        self.counter_store = counter_store or MemoryCounterStore()
        self.digest = DigestServer(
            secret=config.nonce_secret,
            algorithms=config.digest_algorithms,
            counter_store=nonce_counters,
        )
        self.background = Background()
        self.security = SecurityService(
            gate=SecurityGate(config.security_gate),
            store=self.counter_store,
            policy=config.ban_policy,
            events=events,
            spawn=lambda work: self.background.spawn(work, "security follow-up"),
            worker_id=config.worker_id,
        )
        self.registrar = Registrar(
            directory=directory,
            events=events,
            digest=self.digest,
            config=RegistrarConfig(
                worker_id=config.worker_id,
                default_domain=config.default_domain.lower(),
                min_expires=config.min_expires,
                max_expires=config.max_expires,
                default_expires=config.default_expires,
                max_bindings=config.max_bindings,
            ),
            clock=clock,
            auth_report=self.security,
        )
        self.endpoint: Endpoint | None = None
        self.b2bua: B2bua | None = None
        self.pool: DialplanPool | None = None
        self.agent: ProviderAgent | None = None
        self.cluster: ClusterMember | None = None
        self._sweeper: asyncio.Task[None] | None = None
        self._ban_refresher: asyncio.Task[None] | None = None

    @property
    def active_calls(self) -> int:
        return 0 if self.b2bua is None else self.b2bua.active_calls

    async def start(self, listens: Sequence[tuple[str, str, int]]) -> list[tuple[str, str, int]]:
        """Listen on every ``(transport, host, port)``; returns the bound addresses."""
        config = self.config
        self.endpoint = endpoint = SecuredEndpoint(
            config.endpoint or EndpointConfig(), security=self.security, clock=self.clock
        )
        bound = []
        try:
            for kind, host, port in listens:
                peer = await endpoint.listen(kind, host, port)
                bound.append((peer.transport, peer.host, peer.port))
            self.pool = DialplanPool(config.dialplan_pool_size, limits=config.sandbox_limits)
            await self.pool.start()
        except BaseException:
            await self.close()
            raise
        self.b2bua = B2bua(
            endpoint=endpoint,
            directory=self.directory,
            events=self.events,
            pool=self.pool,
            digest=self.digest,
            hairpin=HairpinMark(config.nonce_secret),
            config=B2buaConfig(
                worker_id=config.worker_id,
                user_agent=config.user_agent,
                ring_timeout=config.ring_timeout,
                max_call_seconds=config.max_call_seconds,
            ),
            clock=self.clock,
            auth_report=self.security,
        )
        if config.cluster is not None:
            self.cluster = ClusterMember.connect(
                config.cluster,
                me=config.cluster.worker_info(config.worker_id, bound[0]),
                endpoint=endpoint,
            )
            await self.cluster.join()
            self.b2bua.registry.observer = self.cluster
            self.b2bua.cross = self._cross_worker(self.b2bua, self.cluster, config.cluster)
        endpoint.on_request = self._on_request
        endpoint.on_stray_response = self.b2bua.on_stray_response
        loop = asyncio.get_running_loop()
        self._sweeper = loop.create_task(self._sweep_bindings())
        self._ban_refresher = loop.create_task(self._refresh_bans())
        if config.register_providers:
            self.agent = ProviderAgent(
                endpoint=endpoint,
                directory=self.directory,
                clock=self.clock,
                config=AgentConfig(
                    worker_id=config.worker_id,
                    user_agent=config.user_agent,
                    poll_interval=config.provider_poll_interval,
                    retry_base=config.provider_retry_base,
                    retry_max=config.provider_retry_max,
                ),
                leases=None
                if self.cluster is None
                else self.cluster.provider_leases(config.provider_poll_interval),
            )
            self.agent.start()
        return bound

    async def drain(self, grace: float | None = None) -> None:
        """Stop taking new calls (503), wait up to ``grace`` for the active ones, BYE the rest."""
        if self.b2bua is not None:
            await self.b2bua.drain(self.config.drain_grace if grace is None else grace)

    async def close(self) -> None:
        """Stop everything: calls still up are abandoned (use ``drain`` first)."""
        for task in (self._sweeper, self._ban_refresher):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._sweeper = self._ban_refresher = None
        await self.background.close()
        if self.agent is not None:
            await self.agent.close()
        if self.b2bua is not None:
            await self.b2bua.close()
            if self.b2bua.cross is not None:
                await self.b2bua.cross.dialogues.close()
        if self.cluster is not None:
            await self.cluster.leave()
            self.cluster = None
        if self.pool is not None:
            await self.pool.close()
            self.pool = None
        if self.endpoint is not None:
            await self.endpoint.close()

    def _cross_worker(
        self, b2bua: B2bua, member: ClusterMember, config: ClusterConfig
    ) -> CrossWorker:
        """Transfers whose calls sit on two workers: questions about dialogues answered
        from this worker's registry, takeover INVITEs signed with the shared secret."""
        dialogues = RemoteDialogues(member.client, member.ownership.me)
        cross = CrossWorker(
            endpoint=b2bua.endpoint,
            registry=b2bua.registry,
            background=b2bua.background,
            ownership=member.ownership,
            dialogues=dialogues,
            signer=TakeoverSigner(config.forwarding_secret),
            clock=self.clock,
            user_agent=self.config.user_agent,
        )
        dialogues.answer = cross.answer
        dialogues.start()
        return cross

    async def _on_request(self, request: Request, handle: ServerTransactionHandle | None) -> None:
        b2bua = self.b2bua
        assert b2bua is not None
        if self.cluster is not None and await self.cluster.router.route(request, handle):
            return
        method = request.method
        if handle is None or method == "ACK":
            await b2bua.on_ack(request)
            return
        if method == "REGISTER":
            handle.respond(await self.registrar.handle(request, handle.source, handle.client))
            return
        if method == "CANCEL":
            b2bua.on_cancel(request, handle)
            return
        try:
            to_tag = request.to_addr.tag
        except ParseError as error:
            handle.reply(400, reason_text(error))
            return
        if to_tag:
            await b2bua.on_in_dialog(request, handle)
        elif method == "INVITE":
            await b2bua.on_invite(request, handle)
        elif method == "OPTIONS":
            # 503 while draining: the front door's probe takes this worker out of the hash
            status = 503 if b2bua.draining else 200
            handle.reply(status, headers=[("Allow", ALLOW), ("Accept", "application/sdp")])
        elif method in ("BYE", "REFER"):
            handle.reply(481)
        else:
            handle.reply(405, headers=[("Allow", ALLOW)])

    async def _refresh_bans(self) -> None:
        while True:
            await asyncio.sleep(self.config.security_refresh_interval)
            await self.security.refresh(self.clock())

    async def _sweep_bindings(self) -> None:
        while True:
            await asyncio.sleep(self.config.binding_sweep_interval)
            try:
                await self.registrar.expire()
            except Exception:
                log.exception("expiring bindings failed")
