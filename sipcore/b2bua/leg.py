"""One leg of a call: a dialogue with one user agent, us as its callee or its caller.

An ``InboundLeg`` is the caller's INVITE reaching us: we answer it (provisional, 2xx or a
failure) and then are the callee of its dialogue. An ``OutboundLeg`` is an INVITE we send:
it answers digest challenges, sends CANCEL (only once something provisional came back,
RFC 3261 §9.1), acknowledges 2xx and hangs up an answer nobody wants any more. Both keep
their ``sipcore.dialog.Dialog`` in the ``DialogRegistry``, so in-dialogue requests find
them, and retransmit 2xx responses to INVITEs until the ACK (§13.3.1.4). A leg belongs to
an owner (the call bridging it) that receives its in-dialogue requests; a transfer may move it
to another call, so a leg also carries what it needs to be described on its own: who is on
it, and the session descriptions last exchanged with that user agent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from sipcore.auth import CredentialsRejected, DigestClient, NoUsableChallenge
from sipcore.b2bua.background import Background
from sipcore.b2bua.detail import IN, LegDetail
from sipcore.b2bua.flag import Flag
from sipcore.b2bua.registry import DialogRegistry
from sipcore.dialog import Dialog, DialogState, SendBye
from sipcore.endpoint import Endpoint, ServerTransactionHandle
from sipcore.errors import LocalProtocolError, RemoteProtocolError
from sipcore.message import Address, ParseError, Request, Response, make_response, new_tag
from sipcore.transaction import SendMessage, build_cancel
from sipcore.transfer.replaces import DialogueInfo
from sipcore.transport import Peer

log = logging.getLogger(__name__)

BYE_TIMEOUT = 10.0
"""How long a BYE may take before the leg is considered gone anyway."""
OWNER_WAIT = 2.0
"""How long an in-dialogue request waits for an answered leg to join its call."""


class LegOwner(Protocol):
    """What a leg reports to: the call that bridges it."""

    async def on_request(self, leg: Leg, request: Request, handle: ServerTransactionHandle) -> None:
        """An in-dialogue request (not ACK, not CANCEL) the dialogue accepted."""

    async def on_ack(self, leg: Leg, ack: Request) -> None:
        """The ACK of a 2xx we sent on ``leg`` (it may carry a delayed offer's answer)."""

    async def on_dialog_lost(self, leg: Leg, reason: str) -> None:
        """The dialogue ended without a BYE from the peer (no ACK came, 481/408)."""

    def describe(self, leg: Leg) -> DialogueInfo | None:
        """``leg``'s dialogue as a Replaces header naming it must be judged (RFC 3891)."""


def party_identity(header: str) -> str:
    """A From or To header value as the party it names (no dialogue tag), for audits."""
    try:
        return str(Address.parse(header).without_tag())
    except ParseError:
        return header


def contact_for(local: Peer, user: str = "b2bua") -> str:
    """Our Contact on a leg: the address the peer must send in-dialogue requests to."""
    return f"<sip:{user}@{local.hostport};transport={local.transport}>"


class Leg:
    """What both kinds of leg share: the dialogue, its peer and sending inside it.

    Legs live as long as their calls, thousands at once: every kind of leg has slots."""

    __slots__ = (
        "_ack_waiting",
        "_owned",
        "_owner",
        "_retransmitting",
        "background",
        "contact",
        "detail",
        "dialog",
        "endpoint",
        "invite",
        "inviting",
        "local_sdp",
        "party",
        "party_account_id",
        "peer",
        "registry",
        "remote_sdp",
        "renegotiating",
    )

    invite: Request
    """The INVITE that created the dialogue (the caller's, or ours)."""

    def __init__(
        self,
        *,
        endpoint: Endpoint,
        registry: DialogRegistry,
        background: Background,
        peer: Peer,
        contact: str,
        detail: LegDetail,
    ) -> None:
        self.endpoint = endpoint
        self.registry = registry
        self.background = background
        self.peer = peer
        self.contact = contact
        self.detail = detail
        self.dialog: Dialog | None = None
        self._owner: LegOwner | None = None
        self._owned = Flag()
        self.party = ""
        """Who is on this leg, as the call names them (transfer audits show it)."""
        self.party_account_id: int | None = None
        """The SIP account of the user agent on this leg (None: a provider, a foreign UA)."""
        self.remote_sdp = b""
        """The session description this leg's user agent last gave us (offer or answer)."""
        self.local_sdp = b""
        """The session description we last gave this leg's user agent."""
        self.renegotiating = False
        """A transfer is changing this dialogue's session: offers relayed across it get 491."""
        self.inviting = 0
        """Our INVITEs on this dialogue still waiting for their final response."""
        self._retransmitting = False
        self._ack_waiting: int | None = None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.detail.leg_id[:8]} {self.peer}>"

    @property
    def owner(self) -> LegOwner | None:
        return self._owner

    @owner.setter
    def owner(self, owner: LegOwner | None) -> None:
        self._owner = owner
        if owner is not None:
            self._owned.set()

    async def owned(self, timeout: float) -> LegOwner | None:
        """The leg's owner, waiting up to ``timeout`` for one: an answered leg joins its call
        a moment after its 2xx was acknowledged, and the peer may speak first (a REFER sent
        right after the ACK)."""
        if self._owner is None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await self._owned.wait()
        return self._owner

    @property
    def confirmed(self) -> bool:
        return self.dialog is not None and self.dialog.state is DialogState.CONFIRMED

    def now(self) -> float:
        return asyncio.get_running_loop().time()

    def adopt(self, dialog: Dialog) -> None:
        """Make ``dialog`` this leg's dialogue (replacing an early one of another fork)."""
        if self.dialog is not None and self.dialog.id != dialog.id:
            self.registry.remove(self.dialog.id)
        self.dialog = dialog
        self.registry.add(dialog.id, self)

    def forget(self) -> None:
        """Take the dialogue out of the registry: nothing more will reach this leg."""
        if self.dialog is not None:
            self.registry.remove(self.dialog.id)

    async def send(
        self,
        method: str,
        *,
        body: bytes = b"",
        headers: Iterable[tuple[str, str]] = (),
    ) -> Response:
        """Send an in-dialogue request and return its final response (acknowledging a 2xx
        to INVITE)."""
        if self.dialog is None:
            raise LocalProtocolError(f"{self!r} has no dialogue")
        request = self.dialog.create_request(method, body=body, headers=headers)
        if method == "INVITE":
            self.inviting += 1
        try:
            response = await self.endpoint.send_request(request, self.peer)
        finally:
            if method == "INVITE":
                self.inviting -= 1
        self._follow(response)
        if method == "INVITE" and 200 <= response.status < 300:
            await self.acknowledge(request, response)
        return response

    async def acknowledge(self, invite: Request, response: Response) -> None:
        """ACK a 2xx to our INVITE. After a delayed offer (our INVITE had no body, the 2xx
        brought the offer) the ACK must carry the answer, which the other leg's ACK will
        bring: it waits for ``complete_ack``."""
        if not invite.body and response.body:
            self._ack_waiting = invite.cseq.seq
            return
        await self.send_ack(invite.cseq.seq)

    async def complete_ack(self, body: bytes, content_type: str | None) -> None:
        """Send the ACK a delayed offer is waiting for, carrying the answer ``body``."""
        seq, self._ack_waiting = self._ack_waiting, None
        if seq is not None:
            await self.send_ack(seq, body, content_type)

    def resend_ack(self, seq: int) -> None:
        """Our ACK again, for a retransmitted 2xx (not while it waits for an answer)."""
        if seq != self._ack_waiting:
            self.background.spawn(self.send_ack(seq), f"ACK again on {self!r}")

    async def send_ack(self, seq: int, body: bytes = b"", content_type: str | None = None) -> None:
        """The ACK of our INVITE number ``seq`` (built once: every copy is identical)."""
        assert self.dialog is not None
        ack = self.dialog.create_ack(seq, body=body, content_type=content_type)
        await self.endpoint.send_stateless(ack, self.peer)

    async def bye(self) -> None:
        """End a confirmed dialogue with BYE; a missing answer ends it all the same."""
        if self.dialog is None or self.dialog.terminated or not self.confirmed:
            self.forget()
            return
        if self._ack_waiting is not None:
            await self.complete_ack(b"", None)
        try:
            async with asyncio.timeout(BYE_TIMEOUT):
                await self.send("BYE")
        except (TimeoutError, OSError, ConnectionError, LocalProtocolError) as error:
            log.info("BYE on %r failed: %s", self, error)
        self.forget()

    def receive(self, request: Request) -> None:
        """Let the dialogue check an in-dialogue request; raises ``RemoteProtocolError``."""
        assert self.dialog is not None
        self.dialog.receive_request(request, self.now())

    def respond(
        self, request: Request, handle: ServerTransactionHandle, response: Response
    ) -> None:
        """Send our response to an in-dialogue request and let the dialogue follow it."""
        handle.respond(response)
        if self.dialog is not None:
            self.dialog.on_response_sent(request, response, self.now())
            self.retransmit_2xx()

    def retransmit_2xx(self) -> None:
        """Drive the dialogue's 2xx retransmissions (and BYE on no ACK) while any are due."""
        if not self._retransmitting and self.dialog and self.dialog.next_deadline() is not None:
            self._retransmitting = True
            self.background.spawn(self._retransmissions(), f"2xx retransmission on {self!r}")

    async def _retransmissions(self) -> None:
        try:
            while self.dialog is not None and (deadline := self.dialog.next_deadline()):
                await asyncio.sleep(max(0.0, deadline - self.now()))
                for action in self.dialog.on_timer(self.now()):
                    if isinstance(action, SendMessage):
                        await self.endpoint.send_stateless(action.message, self.peer)
                    elif isinstance(action, SendBye) and self.owner is not None:
                        await self.owner.on_dialog_lost(self, "no ACK for the 2xx")
        finally:
            self._retransmitting = False

    def _follow(self, response: Response) -> None:
        if self.dialog is None:
            return
        try:
            self.dialog.receive_response(response)
        except (LocalProtocolError, RemoteProtocolError, ParseError):
            log.debug("response %r is not for the dialogue of %r", response, self)


class InboundLeg(Leg):
    """The caller's leg: we answer its INVITE, then act as the callee of its dialogue."""

    __slots__ = ("handle", "to_tag")

    def __init__(self, *, invite: Request, handle: ServerTransactionHandle, **kwargs: Any):
        super().__init__(**kwargs)
        self.invite = invite
        self.handle = handle
        self.to_tag = new_tag()

    @classmethod
    def for_invite(
        cls,
        invite: Request,
        handle: ServerTransactionHandle,
        *,
        local: Peer,
        endpoint: Endpoint,
        registry: DialogRegistry,
        background: Background,
        created_at: float,
        worker_id: str,
        customer_id: int | None,
        destination: str,
        account_id: int | None = None,
        provider_id: int | None = None,
    ) -> InboundLeg:
        """Our leg for ``invite``, received on ``local``: its call detail opened, its party
        named by the From header."""
        source = handle.source
        detail = LegDetail(
            call_id=invite.call_id,
            direction=IN,
            created_at=created_at,
            worker_id=worker_id,
            customer_id=customer_id,
            account_id=account_id,
            provider_id=provider_id,
            from_header=invite.headers.get("From") or "",
            to_header=invite.headers.get("To") or "",
            destination=destination,
            local_socket=f"{local.transport}:{local.hostport}",
            remote_socket=f"{source.transport}:{source.hostport}",
        )
        leg = cls(
            invite=invite,
            handle=handle,
            endpoint=endpoint,
            registry=registry,
            background=background,
            peer=source,
            contact=contact_for(local),
            detail=detail,
        )
        leg.party = party_identity(detail.from_header)
        return leg

    @property
    def answered(self) -> bool:
        return self.handle.final_sent

    def provisional(
        self,
        status: int,
        reason: str,
        *,
        body: bytes = b"",
        headers: Iterable[tuple[str, str]] = (),
    ) -> None:
        """Relay progress (180, 183 with early media) to the caller."""
        if self.handle.final_sent:
            return
        response = self._response(status, reason, body, headers)
        if self.dialog is None:
            self.adopt(Dialog.uas(self.invite, response, config=self.endpoint.config.timers))
        self.handle.respond(response)

    def answer(self, body: bytes, headers: Iterable[tuple[str, str]]) -> None:
        """Answer the caller with a 2xx carrying the callee's session description."""
        response = self._response(200, "OK", body, headers)
        if self.dialog is None:
            self.adopt(Dialog.uas(self.invite, response, config=self.endpoint.config.timers))
        self.respond(self.invite, self.handle, response)

    def reject(
        self, status: int, reason: str = "", headers: Iterable[tuple[str, str]] = ()
    ) -> None:
        """Send a final failure to the caller (once; later calls do nothing)."""
        if self.handle.final_sent:
            return
        response = make_response(self.invite, status, reason or None, to_tag=self.to_tag)
        for name, value in headers:
            response.headers.add(name, value)
        self.handle.respond(response)
        if self.dialog is not None:
            self.dialog.on_response_sent(self.invite, response, self.now())
        self.forget()

    def _response(
        self, status: int, reason: str, body: bytes, headers: Iterable[tuple[str, str]]
    ) -> Response:
        response = make_response(self.invite, status, reason or None, to_tag=self.to_tag)
        for route in self.invite.headers.get_raw("Record-Route"):
            response.headers.add("Record-Route", route)  # RFC 3261 §12.1.1: a proxy in front
        response.headers.add("Contact", self.contact)
        for name, value in headers:
            response.headers.add(name, value)
        response.body = body
        return response


ProgressCallback = Callable[["OutboundLeg", Response], None]


class OutboundLeg(Leg):
    """A leg we call: INVITE (answering challenges), CANCEL, ACK, and the dialogue after."""

    __slots__ = (
        "_cancel_sent",
        "_finished",
        "_from_tag",
        "_provisional_seen",
        "auth",
        "on_progress",
        "unwanted",
    )

    def __init__(
        self,
        *,
        invite: Request,
        auth: DigestClient | None = None,
        on_progress: ProgressCallback | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.invite = invite
        self.auth = auth
        self.on_progress = on_progress
        self._finished = False
        """Set once the INVITE got its final response (``run`` returns it; the leg keeps none:
        after the answer only the dialogue matters)."""
        self.unwanted = False
        """Set when the leg lost (another answered, the caller gave up): an answer is hung up."""
        self._provisional_seen = False
        self._cancel_sent = False
        self._from_tag = invite.from_addr.tag or ""

    async def run(self) -> Response:
        """Send the INVITE and return its final response (after answering challenges).

        A 2xx is acknowledged at once, its session description already relayed in our
        INVITE; when the leg was cancelled meanwhile the answer is hung up with BYE.
        """
        self.registry.add_invite(self.invite.call_id, self._from_tag, self)
        credentials_sent = False
        try:
            while True:
                response = await self.endpoint.send_request(
                    self.invite, self.peer, on_provisional=self._provisional
                )
                retry = self._authorised_retry(response, credentials_sent)
                if retry is None or self.unwanted:
                    break
                self.invite, credentials_sent = retry, True
        finally:
            self.registry.remove_invite(self.invite.call_id, self._from_tag)
            # Progress and challenges end with the final response; the call's dialling
            # state they reach (its party, its offer, the credentials) need not live on
            # with the dialogue.
            self.on_progress = None
            self.auth = None
        self._finished = True
        if not 200 <= response.status < 300:
            self.forget()
            return response
        try:
            self._confirm(response)
        except (RemoteProtocolError, ParseError) as error:
            log.info("unusable 2xx on %r: %s", self, error)
            return make_response(self.invite, 502, "Bad Gateway")
        await self.acknowledge(self.invite, response)
        if self.unwanted:
            await self.bye()
        return response

    def cancel(self) -> None:
        """Give up on this leg: CANCEL once it rang; an answer that still comes is hung up."""
        if self.unwanted:
            return
        self.unwanted = True
        if self._provisional_seen and not self._finished:
            self._send_cancel()

    def stray_2xx(self, response: Response) -> None:
        """A 2xx from another fork of our INVITE: acknowledge it and hang that dialogue up."""
        if self.dialog is None:
            return
        stray = Dialog.uac(self.invite, response, config=self.endpoint.config.timers)
        leg = OutboundLeg(
            invite=self.invite,
            endpoint=self.endpoint,
            registry=self.registry,
            background=self.background,
            peer=self.peer,
            contact=self.contact,
            detail=self.detail,
        )
        leg.dialog = stray
        self.background.spawn(self._ack_and_bye(leg, response), "hanging up a stray fork")

    async def _ack_and_bye(self, leg: OutboundLeg, response: Response) -> None:
        await leg.send_ack(response.cseq.seq)
        await leg.bye()

    def _provisional(self, response: Response) -> None:
        if response.status == 100:
            return
        self._provisional_seen = True
        if response.to_addr.tag:
            try:
                if self.dialog is None or self.dialog.id.remote_tag != response.to_addr.tag:
                    self.adopt(
                        Dialog.uac(self.invite, response, config=self.endpoint.config.timers)
                    )
                else:
                    self.dialog.receive_response(response)
            except (RemoteProtocolError, LocalProtocolError, ParseError) as error:
                log.info("provisional response on %r ignored: %s", self, error)
        if self.unwanted:
            self._send_cancel()
            return
        if self.on_progress is not None:
            self.on_progress(self, response)

    def _confirm(self, response: Response) -> None:
        dialog = self.dialog
        if dialog is not None and dialog.id.remote_tag == response.to_addr.tag:
            self._follow(response)
        else:
            self.adopt(Dialog.uac(self.invite, response, config=self.endpoint.config.timers))

    def _send_cancel(self) -> None:
        if self._cancel_sent:
            return
        self._cancel_sent = True
        cancel = build_cancel(self.invite)
        self.background.spawn(self.endpoint.send_request(cancel, self.peer), f"CANCEL {self!r}")

    def _authorised_retry(self, response: Response, credentials_sent: bool) -> Request | None:
        """The INVITE again with credentials answering ``response``'s challenge, if we can."""
        if self.auth is None or response.status not in (401, 407):
            return None
        challenge_header = "WWW-Authenticate" if response.status == 401 else "Proxy-Authenticate"
        answer_header = "Authorization" if response.status == 401 else "Proxy-Authorization"
        try:
            value = self.auth.authorize(
                response.headers.get_all(challenge_header),
                method="INVITE",
                uri=str(self.invite.uri),
                credentials_sent=credentials_sent,
            )
        except (NoUsableChallenge, CredentialsRejected) as error:
            log.info("cannot answer the challenge on %r: %s", self, error)
            return None
        retry = Request("INVITE", self.invite.uri, self.invite.headers.copy(), self.invite.body)
        retry.headers.remove("Via")
        retry.headers.set("CSeq", f"{self.invite.cseq.seq + 1} INVITE")
        retry.headers.set(answer_header, value)
        return retry
