"""One SIP dialogue (RFC 3261 §12-§15), sans-I/O with an injected clock.

A ``Dialog`` is symmetric once created: either side sends in-dialogue requests
(``create_request``, ``create_ack``), checks incoming ones (``receive_request``),
follows responses to its own requests (``receive_response``) and reports the
responses it sends (``on_response_sent``). A side that answered an INVITE with
a 2xx retransmits that 2xx (T1, doubling, capped at T2) until the ACK arrives,
and after 64·T1 without one tells the TU to end the session with ``SendBye``
(§13.3.1.4); drive that with ``next_deadline()`` and ``on_timer(now)``.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from sipcore.dialog.routing import route_request
from sipcore.dialog.tables import DialogInput, DialogState, next_state
from sipcore.errors import LocalProtocolError, ProtocolError, RemoteProtocolError
from sipcore.message import URI, Address, Message, Request, Response, new_branch
from sipcore.transaction.actions import SendMessage
from sipcore.transaction.building import DEFAULT_MAX_FORWARDS, build_request
from sipcore.transaction.timers import TimerConfig

TARGET_REFRESH = frozenset({"INVITE", "UPDATE"})
"""Methods whose 2xx replaces the remote target (§12.2, RFC 3311)."""

WITH_CONTACT = frozenset({"INVITE", "UPDATE", "SUBSCRIBE", "NOTIFY", "REFER"})
"""In-dialogue methods that carry our Contact (RFC 3261, 3265, 3311, 3515)."""

MAX_INITIAL_CSEQ = 2**31
"""§8.1.1.5: an initial CSeq number must be below 2**31."""


@dataclass(frozen=True, slots=True)
class DialogId:
    """Call-ID plus local and remote tags, as seen from our side (§12)."""

    call_id: str
    local_tag: str
    remote_tag: str

    @classmethod
    def from_uac_message(cls, message: Message) -> DialogId:
        """The id of a dialogue in which we sent the From side: a response we got, or
        a request the peer sent us with our tag in To."""
        return cls(message.call_id, message.from_addr.tag or "", message.to_addr.tag or "")

    @classmethod
    def from_incoming_request(cls, request: Message) -> DialogId:
        """The id, from our side, of the dialogue an incoming request belongs to."""
        return cls(request.call_id, request.to_addr.tag or "", request.from_addr.tag or "")


@dataclass(frozen=True, slots=True)
class SendBye:
    """No ACK came for our 2xx within 64·T1: the TU should send BYE (§13.3.1.4)."""

    dialog_id: DialogId


DialogAction = SendMessage | SendBye
Role = Literal["UAC", "UAS"]


@dataclass(slots=True)
class _Pending2xx:
    response: Response
    next_at: float
    interval: float
    give_up_at: float


class Dialog:
    """Dialogue state: id, CSeq numbers, route set, remote target, 2xx retransmission.

    A server holds two per call for the call's whole life: slots, and the tables of 2xx
    retransmissions and ACKs exist only while they hold something."""

    __slots__ = (
        "_ack",
        "_pending",
        "config",
        "id",
        "local_address",
        "local_contact",
        "local_seq",
        "remote_address",
        "remote_seq",
        "remote_target",
        "role",
        "route_set",
        "state",
        "via_sent_by",
        "via_transport",
    )

    def __init__(
        self,
        *,
        role: Role,
        dialog_id: DialogId,
        local_address: str,
        remote_address: str,
        local_contact: str,
        remote_target: URI,
        route_set: Iterable[Address],
        local_seq: int | None,
        remote_seq: int | None,
        via_transport: str,
        via_sent_by: str,
        config: TimerConfig,
    ) -> None:
        self.role = role
        self.id = dialog_id
        self.state = DialogState.NEW
        self.local_address = local_address
        self.remote_address = remote_address
        self.local_contact = local_contact
        self.remote_target = remote_target
        self.route_set = list(route_set)
        self.local_seq = local_seq
        self.remote_seq = remote_seq
        self.via_transport = via_transport
        self.via_sent_by = via_sent_by
        self.config = config
        self._pending: dict[int, _Pending2xx] | None = None
        self._ack: tuple[int, Request] | None = None
        """The ACK of our latest INVITE (a retransmitted 2xx of an earlier one, which can
        only come before we sent the next, gets a new ACK built)."""

    def __repr__(self) -> str:
        return f"<Dialog {self.role} {self.id} {self.state.value}>"

    @classmethod
    def uac(
        cls, request: Request, response: Response, *, config: TimerConfig | None = None
    ) -> Dialog:
        """The caller's dialogue from our dialog-creating ``request`` and a response to it
        that carries a To tag: a 1xx makes it early, a 2xx confirmed (§12.1.2)."""
        if not response.to_addr.tag:
            raise RemoteProtocolError("a dialog-creating response needs a To tag")
        via = request.top_via
        dialog = cls(
            role="UAC",
            dialog_id=DialogId.from_uac_message(response),
            local_address=str(request.from_addr),
            remote_address=str(response.to_addr),
            local_contact=str(_first_contact(request, LocalProtocolError)),
            remote_target=request.uri,
            route_set=(),
            local_seq=request.cseq.seq,
            remote_seq=None,
            via_transport=via.transport,
            via_sent_by=_host_port(via.host, via.port),
            config=config or TimerConfig(),
        )
        dialog._uac_update(response)
        dialog._fire(_creating_input(response.status))
        return dialog

    @classmethod
    def uas(
        cls, request: Request, response: Response, *, config: TimerConfig | None = None
    ) -> Dialog:
        """The callee's dialogue from a dialog-creating ``request`` and our ``response``
        (1xx or 2xx, with our To tag and Contact), per §12.1.1."""
        if not response.to_addr.tag:
            raise LocalProtocolError("our dialog-creating response needs a To tag")
        contact = _first_contact(response, LocalProtocolError)
        our_uri = contact.uri
        dialog = cls(
            role="UAS",
            dialog_id=DialogId.from_incoming_request(response),
            local_address=str(response.to_addr),
            remote_address=str(request.from_addr),
            local_contact=str(contact),
            remote_target=_first_contact(request, RemoteProtocolError).uri,
            route_set=request.record_routes,
            local_seq=None,
            remote_seq=request.cseq.seq,
            via_transport=our_uri.params.get("transport", "UDP").upper(),
            via_sent_by=_host_port(our_uri.host or "", our_uri.port),
            config=config or TimerConfig(),
        )
        dialog._fire(_creating_input(response.status))
        return dialog

    @property
    def terminated(self) -> bool:
        return self.state is DialogState.TERMINATED

    def create_request(
        self,
        method: str,
        *,
        body: bytes = b"",
        content_type: str | None = None,
        headers: Iterable[tuple[str, str]] = (),
        via: str | None = None,
    ) -> Request:
        """A new in-dialogue request (§12.2.1.1) with the next local CSeq number.

        The Request-URI and Route follow the route set (loose or strict routing).
        ``via`` replaces the default top Via (our transport and sent-by, new branch).
        Sending BYE ends the dialogue. ACK has its own method, ``create_ack``.
        """
        method = method.upper()
        if method in ("ACK", "CANCEL"):
            raise LocalProtocolError(f"{method} is not built by create_request")
        if self.terminated:
            raise LocalProtocolError(f"{self!r} is terminated")
        if method == "BYE" and self.role == "UAS" and self.state is DialogState.EARLY:
            raise LocalProtocolError("the callee must not send BYE on an early dialogue")
        if self.local_seq is None:
            self.local_seq = secrets.randbelow(MAX_INITIAL_CSEQ - 1) + 1
        else:
            self.local_seq += 1
        request = self._build(method, self.local_seq, body, content_type, headers, via)
        if method == "BYE":
            self._fire(DialogInput.BYE)
        return request

    def create_ack(
        self, invite_seq: int, *, body: bytes = b"", content_type: str | None = None
    ) -> Request:
        """The ACK for a 2xx to our INVITE number ``invite_seq`` (§13.2.2.4).

        Built once per INVITE and returned again for each retransmitted 2xx, so
        every copy of the ACK is identical (same branch).
        """
        ack = self.sent_ack(invite_seq)
        if ack is None:
            ack = self._build("ACK", invite_seq, body, content_type, (), None)
            self._ack = (invite_seq, ack)
        return ack

    def sent_ack(self, invite_seq: int) -> Request | None:
        """The ACK already built for INVITE ``invite_seq``, to answer a retransmitted 2xx."""
        if self._ack is None or self._ack[0] != invite_seq:
            return None
        return self._ack[1]

    def receive_request(self, request: Request, now: float) -> None:
        """Check and absorb an in-dialogue request from the peer (§12.2.2).

        Raises ``RemoteProtocolError`` with ``status_hint`` 481 when the dialogue
        is over and 500 for a CSeq lower than the last one (out of order). An ACK
        stops the retransmission of the 2xx it acknowledges; a BYE ends the dialogue.
        """
        if DialogId.from_incoming_request(request) != self.id:
            raise LocalProtocolError(f"request for another dialogue given to {self!r}")
        if self.terminated:
            raise RemoteProtocolError("the dialogue is terminated", status_hint=481)
        seq = request.cseq.seq
        if request.method == "ACK":
            if self._pending is not None:
                self._pending.pop(seq, None)
                if not self._pending:
                    self._pending = None
            return
        if request.method == "CANCEL":
            return
        if self.remote_seq is not None and seq < self.remote_seq:
            raise RemoteProtocolError(
                f"CSeq {seq} is lower than the last one, {self.remote_seq}", status_hint=500
            )
        self.remote_seq = seq
        if request.method == "BYE":
            self._fire(DialogInput.BYE)

    def receive_response(self, response: Response) -> None:
        """Follow a response to a request we sent in (or to create) this dialogue."""
        if DialogId.from_uac_message(response) != self.id:
            raise LocalProtocolError(f"response for another dialogue given to {self!r}")
        status = response.status
        method = response.cseq.method
        creating = self.state is DialogState.EARLY and method == "INVITE"
        if status in (408, 481):
            self._fire(DialogInput.GONE)
        elif status >= 300:
            if creating:
                self._fire(DialogInput.REJECTED)
        elif status >= 200:
            if creating and self.role == "UAC":
                self._uac_update(response)
            elif method in TARGET_REFRESH and response.contacts:
                self.remote_target = response.contacts[0].uri
            if method == "INVITE":
                self._fire(DialogInput.SUCCESS)
        elif creating and self.role == "UAC" and response.to_addr.tag:
            self._uac_update(response)
            self._fire(DialogInput.PROVISIONAL)

    def on_response_sent(self, request: Request, response: Response, now: float) -> None:
        """Record a response we sent to the peer's ``request`` in this dialogue.

        A 2xx to INVITE or UPDATE refreshes the remote target from the request's
        Contact; a 2xx to INVITE starts its retransmission until the ACK (§13.3.1.4);
        our final answer to the creating INVITE confirms or ends an early dialogue.
        """
        status = response.status
        method = request.method
        creating = self.state is DialogState.EARLY and method == "INVITE"
        if 200 <= status < 300:
            if method in TARGET_REFRESH and request.contacts:
                self.remote_target = request.contacts[0].uri
            if method == "INVITE":
                self._fire(DialogInput.SUCCESS)
            if method == "INVITE" and not self.terminated:
                t1 = self.config.t1
                if self._pending is None:
                    self._pending = {}
                self._pending[request.cseq.seq] = _Pending2xx(response, now + t1, t1, now + 64 * t1)
        elif status >= 300 and creating:
            self._fire(DialogInput.REJECTED)

    def next_deadline(self) -> float | None:
        """When ``on_timer`` must next run (2xx retransmission or ACK give-up), if ever."""
        if self._pending is None:
            return None
        return min((min(p.next_at, p.give_up_at) for p in self._pending.values()), default=None)

    def on_timer(self, now: float) -> list[DialogAction]:
        """Retransmit every 2xx due at ``now``; ask for BYE where the ACK never came."""
        actions: list[DialogAction] = []
        if self._pending is None:
            return actions
        for seq, pending in list(self._pending.items()):
            if pending.give_up_at <= now:
                del self._pending[seq]
                actions.append(SendBye(self.id))
                continue
            while pending.next_at <= now:
                actions.append(SendMessage(pending.response))
                pending.interval = min(2 * pending.interval, self.config.t2)
                pending.next_at += pending.interval
        if not self._pending:
            self._pending = None
        return actions

    def _fire(self, event: DialogInput) -> None:
        self.state = next_state(self.state, event)
        if self.terminated:
            self._pending = None

    def _uac_update(self, response: Response) -> None:
        """Route set (reversed Record-Route) and remote target from a response (§12.1.2)."""
        self.route_set = list(reversed(response.record_routes))
        contacts = response.contacts
        if contacts:
            self.remote_target = contacts[0].uri
        elif 200 <= response.status < 300:
            raise RemoteProtocolError("a 2xx creating a dialogue needs a Contact")

    def _build(
        self,
        method: str,
        seq: int,
        body: bytes,
        content_type: str | None,
        extra: Iterable[tuple[str, str]],
        via: str | None,
    ) -> Request:
        uri, routes = route_request(self.remote_target, self.route_set)
        top_via = via or (
            f"SIP/2.0/{self.via_transport} {self.via_sent_by};rport;branch={new_branch()}"
        )
        headers = [("Via", top_via), ("Max-Forwards", str(DEFAULT_MAX_FORWARDS))]
        headers += [("Route", route) for route in routes]
        headers += [
            ("From", self.local_address),
            ("To", self.remote_address),
            ("Call-ID", self.id.call_id),
            ("CSeq", f"{seq} {method}"),
        ]
        if method in WITH_CONTACT:
            headers.append(("Contact", self.local_contact))
        if content_type is not None:
            headers.append(("Content-Type", content_type))
        headers += list(extra)
        return build_request(method, uri, headers, body)


def _creating_input(status: int) -> DialogInput:
    if 101 <= status < 200:
        return DialogInput.PROVISIONAL
    if 200 <= status < 300:
        return DialogInput.SUCCESS
    raise LocalProtocolError(f"a {status} response does not create a dialogue")


def _first_contact(message: Message, error: type[ProtocolError]) -> Address:
    """The Contact a dialogue's target comes from; ``error`` says whose fault its absence is."""
    contacts = message.contacts
    if not contacts:
        kind = "request" if isinstance(message, Request) else "response"
        raise error(f"a dialog-creating {kind} needs a Contact")
    return contacts[0]


def _host_port(host: str, port: int | None) -> str:
    """A Via sent-by: IPv6 addresses go in brackets, the port only when known."""
    text = f"[{host}]" if ":" in host else host
    return text if port is None else f"{text}:{port}"
