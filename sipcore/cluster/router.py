"""Inter-worker routing: a request for a call another worker holds is proxied to that worker.

The front door hashes on Call-ID and record-routes, so in-dialogue requests normally reach
their own worker; what lands elsewhere is an INVITE with Replaces (a new Call-ID naming
another worker's dialogue, as in an attended transfer whose legs sit on two workers), and a
request whose worker was picked differently because the set of live workers changed. The
worker asks ``ClusterRouter.route`` first: it looks the needed dialogue up in the ownership
map and, if a live peer holds it, forwards the request there as a stateful proxy (our Via on
top, Max-Forwards decremented, a signed ``X-Sipplatform-Forwarded`` stamp) and relays the
responses back. A request that was already forwarded once is never forwarded again (482), so
a stale map cannot make two workers bounce a request between them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from redis.exceptions import RedisError

from sipcore.cluster.forwarding import ForwardSigner, dialogue_needed
from sipcore.cluster.ownership import DialogueOwnership
from sipcore.cluster.records import ClusterError, WorkerInfo
from sipcore.endpoint import Endpoint, ServerTransactionHandle
from sipcore.message import Request, Response, new_branch
from sipcore.security.gate import SOURCE_HEADER
from sipcore.transport import Peer, client_via

log = logging.getLogger(__name__)

DEFAULT_MAX_FORWARDS = 70


def peer_of(worker: WorkerInfo) -> Peer:
    return Peer(worker.transport, worker.host, worker.port)  # type: ignore[arg-type]


def source_text(handle: ServerTransactionHandle | None) -> str:
    """The original sender for the stamp: the phone a trusted front door named (the security
    gate removed the header from anything else), else the sender; an ACK to a 2xx has no
    transaction to tell it."""
    if handle is None:
        return "-"
    named = handle.request.headers.get(SOURCE_HEADER)
    if named:
        return named.strip()
    source = handle.source
    host = f"[{source.host}]" if source.is_ipv6 else source.host
    return f"{source.transport}:{host}:{source.port}"


def without_top_via(response: Response) -> Response:
    """A copy of ``response`` as the previous hop expects it: our Via removed."""
    relayed = Response(response.status, response.reason, response.headers.copy(), response.body)
    relayed.pop_top_via()
    return relayed


class ClusterRouter:
    def __init__(
        self,
        *,
        endpoint: Endpoint,
        ownership: DialogueOwnership,
        signer: ForwardSigner,
        holds: Callable[[str], bool] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.endpoint = endpoint
        self.ownership = ownership
        self.signer = signer
        self.holds = holds or ownership.held.__contains__
        self.clock = clock
        self._pending: dict[ServerTransactionHandle, tuple[Request, Peer]] = {}
        """INVITEs forwarded and not answered yet: what a CANCEL of them must follow."""

    async def route(self, request: Request, handle: ServerTransactionHandle | None) -> bool:
        """True when ``request`` was dealt with here (forwarded or refused); False: serve it.

        Requests this worker can serve, whose dialogue no live peer holds, or whose owner
        cannot be looked up (Redis unreachable) are left to the worker, which answers them
        from its own state (a ``481`` for a dialogue it does not know).
        """
        if request.method == "CANCEL" and handle is not None:
            return await self._cancel_forwarded(request, handle)
        call_id = dialogue_needed(request)
        if call_id is None or self.holds(call_id):
            return False
        try:
            forwarded = self.signer.verify(request, now=self.clock())
        except ClusterError as error:
            log.warning("refused a forwarded %s: %s", request.method, error)
            if handle is not None:
                handle.reply(403, "Invalid forwarding stamp")
            return True
        try:
            owner = await self.ownership.owner(call_id)
        except (ClusterError, RedisError, OSError) as error:
            log.warning("no owner lookup for %s: %s", request.method, error)
            return False
        if owner is None or owner.worker_id == self.ownership.me.worker_id:
            return False
        if forwarded is not None:
            if handle is not None:
                handle.reply(482, "Loop Detected")
            return True
        await self.forward(request, handle, owner)
        return True

    async def forward(
        self, request: Request, handle: ServerTransactionHandle | None, owner: WorkerInfo
    ) -> None:
        """Proxy ``request`` to ``owner`` and relay its answers to ``handle``."""
        max_forwards = request.max_forwards
        if max_forwards is not None and max_forwards <= 0:
            if handle is not None:
                handle.reply(483)
            return
        copy = Request(request.method, request.uri, request.headers.copy(), request.body)
        remaining = DEFAULT_MAX_FORWARDS if max_forwards is None else max_forwards - 1
        copy.headers.set("Max-Forwards", str(remaining))
        copy.headers.remove(SOURCE_HEADER)  # the stamp carries it, signed
        me = self.ownership.me.worker_id
        self.signer.sign(copy, worker_id=me, source=source_text(handle), now=self.clock())
        peer = peer_of(owner)
        if handle is None:  # an ACK to a 2xx: no transaction, no answer
            try:
                local = await self.endpoint.local_address(peer)
                copy.headers.prepend("Via", client_via(local, new_branch()))
                await self.endpoint.send_stateless(copy, peer)
            except OSError as error:
                log.warning("could not forward an ACK to %s: %s", owner.worker_id, error)
            return

        def relay(provisional: Response) -> None:
            if provisional.status > 100 and not handle.final_sent:
                handle.respond(without_top_via(provisional))

        if copy.method == "INVITE":
            self._pending[handle] = (copy, peer)
        try:
            response = await self.endpoint.send_request(
                copy, peer, add_via=True, on_provisional=relay
            )
        finally:
            self._pending.pop(handle, None)
        if not handle.final_sent:
            handle.respond(without_top_via(response))

    async def _cancel_forwarded(self, cancel: Request, handle: ServerTransactionHandle) -> bool:
        """A CANCEL of an INVITE we forwarded: answered here, and sent on after the INVITE
        (hop by hop, RFC 3261 §16.10) with the Via branch of our forwarded copy."""
        invite = self.endpoint.invite_for_cancel(cancel)
        pending = None if invite is None else self._pending.get(invite)
        if pending is None:
            return False
        forwarded, peer = pending
        handle.reply(200)
        headers = [("Via", forwarded.headers.get_all("Via")[0]), ("Max-Forwards", "70")]
        headers += [(name, forwarded.headers.get(name) or "") for name in ("From", "To", "Call-ID")]
        headers.append(("CSeq", f"{forwarded.cseq.seq} CANCEL"))
        await self.endpoint.send_request(Request("CANCEL", forwarded.uri, headers), peer)
        return True
