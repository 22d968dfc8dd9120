"""Attended transfers whose two calls sit on two SIP workers of the platform.

The REFER reaches the worker holding the transferor's call with the transferee (call it W1);
its Replaces names the transferor's consultation dialogue, which another worker (W2) holds.

1. Judging, before the 202: W1 finds no such dialogue in its registry, the ownership map
   names W2, and W1 asks W2 to describe it for the transferor (``sipcore.cluster.dialogues``,
   over Redis). The transfer process judges that description exactly as a local one (481,
   400, 403, 603, 486). W2 judges it the same way (``answer``) and, when it passes, holds
   the consultation dialogue for the transfer at once, as a local transfer does on its 202:
   a BYE the transferor sends on it from then on ends that dialogue alone, not the target's
   call. The hold lapses after ``HOLD_SECONDS`` if no takeover comes (W1 gave up, or died);
   a target left alone by then is hung up.
2. Once accepted, the process re-INVITEs the transferee with the target's session (which W2
   described), then asks for the target to be re-INVITEd with the transferee's answer. The
   target is W2's, so W1 sends W2 a new INVITE instead (``call_holder``): its Replaces names
   the consultation dialogue, its offer is the transferee's session, and it carries the
   signed takeover stamp (``sipcore.cluster.takeover``) naming the transferor's account and
   customer.
3. W2 (``take_over``) checks the stamp and that the dialogue is still up (or held for the
   transfer) and the customer's, re-INVITEs the target with that offer, and answers W1's
   INVITE with the target's answer; the new inbound leg replaces the transferor's
   consultation leg in W2's call (RFC 3891 §3), and the consultation leg gets a BYE. A
   failure (491 glare included) is W1's INVITE's final response, so W1's process backs off
   or restores exactly as for a local re-INVITE.
4. W1 bridges the transferee to its leg towards W2, sends the final NOTIFY and BYEs the
   transferor: transferee <-> W1 <-> W2 <-> target, session descriptions untouched.

Each side records the inter-worker dialogue as one leg of its own call (one record per leg
per worker). Both workers hold that dialogue (``DialogRegistry.between_workers``: kept out of
the ownership map), so the router never forwards its in-dialogue requests: they go straight
to the peer worker named in the Contact.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

from redis.exceptions import RedisError

from sipcore.b2bua.background import Background
from sipcore.b2bua.call import Call
from sipcore.b2bua.detail import OUT, LegDetail
from sipcore.b2bua.leg import InboundLeg, Leg, OutboundLeg, contact_for
from sipcore.b2bua.registry import DialogRegistry
from sipcore.b2bua.relay import ALLOW
from sipcore.cluster.dialogues import RemoteDialogues
from sipcore.cluster.ownership import DialogueOwnership
from sipcore.cluster.records import ClusterError, WorkerInfo
from sipcore.cluster.router import peer_of
from sipcore.cluster.takeover import TAKEOVER_HEADER, TakeoverSigner
from sipcore.dialog import DialogId
from sipcore.endpoint import Endpoint, ServerTransactionHandle
from sipcore.errors import LocalProtocolError
from sipcore.message import ParseError, Replaces, Request, Response, new_call_id, new_tag
from sipcore.transfer.replaces import DialogueInfo, DialogueState, Transferor, judge_replaces

log = logging.getLogger(__name__)

SDP = (("Content-Type", "application/sdp"),)
HOLD_SECONDS = 32.0
"""How long a consultation dialogue stays held for a transfer a peer worker accepted: ample
for its re-INVITE of the transferee and a few 491 back-offs."""


@dataclass(eq=False, slots=True)
class _Held:
    """A consultation dialogue held for a peer worker's transfer."""

    call: Call
    leg: Leg
    timer: asyncio.TimerHandle | None = None


class CrossWorker:
    """This worker's part in transfers spanning two workers: W1's questions and INVITEs,
    and W2's answers and takeovers."""

    def __init__(
        self,
        *,
        endpoint: Endpoint,
        registry: DialogRegistry,
        background: Background,
        ownership: DialogueOwnership,
        dialogues: RemoteDialogues,
        signer: TakeoverSigner,
        clock: Callable[[], float],
        user_agent: str = "sipplatform",
    ) -> None:
        self.endpoint = endpoint
        self.registry = registry
        self.background = background
        self.ownership = ownership
        self.dialogues = dialogues
        self.signer = signer
        self.clock = clock
        self.user_agent = user_agent
        self._held: dict[DialogId, _Held] = {}

    @property
    def worker_id(self) -> str:
        return self.ownership.me.worker_id

    # W1: the worker that received the REFER -----------------------------------------------------

    async def find(
        self, replaces: Replaces, transferor: Transferor
    ) -> tuple[WorkerInfo | None, DialogueInfo | None]:
        """The peer worker holding the dialogue ``replaces`` names, and its description;
        (None, None) when no peer holds it or the peer cannot be asked."""
        try:
            holder = await self.ownership.owner(replaces.call_id)
            if holder is None or holder.worker_id == self.worker_id:
                return None, None
            info = await self.dialogues.describe(holder, replaces, transferor)
        except (ClusterError, RedisError, OSError) as error:
            log.warning("no description of dialogue %r: %s", replaces.call_id[:80], error)
            return None, None
        return (holder, info) if info is not None else (None, None)

    async def call_holder(
        self,
        holder: WorkerInfo,
        replaces: Replaces,
        offer: bytes,
        *,
        caller: str,
        target: str,
        referred_by: str,
        account_id: int | None,
        customer_id: int | None,
        related_call_id: str,
    ) -> tuple[OutboundLeg, Response]:
        """Send ``holder`` the stamped INVITE replacing the consultation dialogue; returns the
        leg and its final response (a 2xx is acknowledged, its body the target's answer)."""
        peer = peer_of(holder)
        local = await self.endpoint.local_address(peer)
        contact = contact_for(local)
        call_id = new_call_id()
        uri = f"sip:transfer@{peer.hostport};transport={peer.transport}"
        from_header = f"{caller};tag={new_tag()}"
        to_header = f"<{target}>"
        invite = Request(
            "INVITE",
            uri,
            [
                ("Max-Forwards", "70"),
                ("From", from_header),
                ("To", to_header),
                ("Call-ID", call_id),
                ("CSeq", "1 INVITE"),
                ("Contact", contact),
                ("Replaces", str(replaces)),
                ("Referred-By", referred_by),
                ("Allow", ALLOW),
                ("User-Agent", self.user_agent),
                *SDP,
            ],
            offer,
        )
        self.signer.sign(
            invite,
            worker_id=self.worker_id,
            account_id=account_id,
            customer_id=customer_id,
            now=self.clock(),
        )
        detail = LegDetail(
            call_id=call_id,
            direction=OUT,
            created_at=self.clock(),
            worker_id=self.worker_id,
            customer_id=customer_id,
            from_header=from_header,
            to_header=to_header,
            destination=f"worker {holder.worker_id}",
            bridged_call_id=related_call_id,
            local_socket=f"{local.transport}:{local.hostport}",
            remote_socket=f"{peer.transport}:{peer.hostport}",
        )
        self.registry.between_workers.add(call_id)
        leg = OutboundLeg(
            invite=invite,
            endpoint=self.endpoint,
            registry=self.registry,
            background=self.background,
            peer=peer,
            contact=contact,
            detail=detail,
        )
        try:
            response = await leg.run()
        finally:
            if not leg.confirmed:
                self.registry.between_workers.discard(call_id)
        leg.detail.answered(response.status, self.clock())
        return leg, response

    # W2: the worker holding the consultation call --------------------------------------------

    def answer(self, replaces: Replaces, transferor: Transferor) -> DialogueInfo | None:
        """Describe the dialogue ``replaces`` names for a peer's REFER; when the peer will
        accept the transfer (the same RFC 3891 judging passes), hold the dialogue for it."""
        dialog_id = DialogId(replaces.call_id, replaces.to_tag, replaces.from_tag)
        info = self.registry.describe(replaces.call_id, replaces.to_tag, replaces.from_tag)
        leg = self.registry.find(dialog_id)
        call = leg.owner if leg is not None else None
        if (
            info is not None
            and info.state is DialogueState.CONFIRMED
            and judge_replaces(replaces, info, transferor) is None
            and leg is not None
            and isinstance(call, Call)
        ):
            self._hold(dialog_id, call, leg)
        return info

    def _hold(self, dialog_id: DialogId, call: Call, leg: Leg) -> None:
        held = self._held.get(dialog_id)
        if held is None:
            held = self._held[dialog_id] = _Held(call=call, leg=leg)
        elif held.timer is not None:
            held.timer.cancel()
        call.transferring.add(leg)
        loop = asyncio.get_running_loop()
        held.timer = loop.call_later(HOLD_SECONDS, self._lapse, dialog_id)

    def _lapse(self, dialog_id: DialogId) -> None:
        """No takeover came: the dialogue is the call's again; a target its transferor left
        alone meanwhile is hung up."""
        held = self._held.pop(dialog_id, None)
        if held is None:
            return
        held.call.transferring.discard(held.leg)
        if not held.call.holds(held.leg):
            held.call.restore()

    def _release(self, dialog_id: DialogId) -> None:
        held = self._held.pop(dialog_id, None)
        if held is not None and held.timer is not None:
            held.timer.cancel()

    @staticmethod
    def is_takeover(request: Request) -> bool:
        return request.headers.get(TAKEOVER_HEADER) is not None

    async def take_over(self, request: Request, handle: ServerTransactionHandle) -> None:
        """A peer worker's INVITE replacing one of our dialogues for a transfer it accepted."""
        try:
            takeover = self.signer.verify(request, now=self.clock())
            replaces = request.replaces
        except ClusterError as error:
            log.warning("refused a takeover INVITE: %s", error)
            handle.reply(403, "Invalid takeover stamp")
            return
        except ParseError as error:
            handle.reply(400, error.reason[:100])
            return
        if takeover is None or replaces is None:
            handle.reply(400, "Takeover without Replaces")
            return
        dialog_id = DialogId(replaces.call_id, replaces.to_tag, replaces.from_tag)
        held = self._held.get(dialog_id)
        replaced = self.registry.find(dialog_id)
        call = replaced.owner if replaced is not None else None
        if held is not None:
            replaced, call = held.leg, held.call
        if replaced is None or not isinstance(call, Call):
            handle.reply(481, "Replaced dialogue does not exist")
            return
        if call.customer_id != takeover.customer_id:
            handle.reply(403, "Replaced dialogue belongs to another customer")
            return
        target = self._target(call, replaced, held is not None)
        if target is None:
            handle.reply(603, "Replaced dialogue has ended")
            return
        if target.inviting or target.renegotiating or replaced.renegotiating:
            handle.reply(491)
            return
        if await self._replace(request, handle, call, replaced, target, takeover.worker_id):
            self._release(dialog_id)

    @staticmethod
    def _target(call: Call, replaced: Leg, held: bool) -> Leg | None:
        """The far end of ``replaced`` in ``call``; a dialogue held for the transfer may have
        ended (its transferor hung up after the 202), leaving the target alone in the call."""
        if call.ended.is_set():
            return None
        if call.holds(replaced):
            info = call.describe(replaced)
            if info is None or info.state is not DialogueState.CONFIRMED:
                return None
            target = call.other(replaced)
        elif held and len(call.legs) == 1:
            target = call.legs[0]
        else:
            return None
        return target if target is not None and target.confirmed else None

    async def _replace(
        self,
        request: Request,
        handle: ServerTransactionHandle,
        call: Call,
        replaced: Leg,
        target: Leg,
        peer_worker: str,
    ) -> bool:
        """Re-INVITE the target with the peer's offer; on success the peer's leg takes the
        replaced leg's place in ``call`` and the replaced leg gets a BYE."""
        offer = request.body
        target.renegotiating = replaced.renegotiating = True
        try:
            response = await target.send("INVITE", body=offer, headers=SDP)
            status = response.status
        except (LocalProtocolError, OSError, ConnectionError) as error:
            log.info("takeover re-INVITE on %r failed: %s", target, error)
            status, response = 500, None
        finally:
            target.renegotiating = replaced.renegotiating = False
        if response is None or not 200 <= status < 300:
            handle.reply(status)
            return False
        answer = response.body
        target.local_sdp, target.remote_sdp = offer, answer or target.remote_sdp
        if handle.final_sent:  # the peer gave up meanwhile: the call stays as it was
            return False
        leg = InboundLeg.for_invite(
            request,
            handle,
            local=await self.endpoint.local_address(handle.source),
            endpoint=self.endpoint,
            registry=self.registry,
            background=self.background,
            created_at=self.clock(),
            worker_id=self.worker_id,
            customer_id=call.customer_id,
            destination=f"worker {peer_worker}",
        )
        leg.remote_sdp, leg.local_sdp = offer, target.remote_sdp
        self.registry.between_workers.add(request.call_id)
        call.bridge(leg, target)
        leg.answer(target.remote_sdp, SDP)
        leg.detail.answered(200, self.clock())
        call.transferring.discard(replaced)
        call.leave(replaced, "replaced", bye=True)
        return True
