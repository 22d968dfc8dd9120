"""Phones for tests: a scriptable sipcore user agent, a worker to call through, real phones.

``Phone`` registers with digest, places calls (answering 407), answers, rings, is busy or
rejects as its ``mode`` says, hangs up, sends re-INVITEs and other in-dialogue
requests, and records every request it gets. With ``users`` set it acts as a provider: it
challenges REGISTER (401) and INVITE (407) for those accounts and keeps what registered.
``running_world`` starts a SipWorker on a MemoryDirectory (UDP and TCP on port 0) and hands
back a ``World`` that adds accounts and phones. ``Baresip`` and ``Linphone`` run the real
phones (PEERS.md) under test control; traced, they show the SIP messages they exchanged and
the session descriptions they hold (``TracedPhone``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import pty
import re
import shutil
import time
import tty
import wave
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from sipcore.auth import Accepted, DigestClient, DigestServer, ha1, password_lookup
from sipcore.dialog import Dialog
from sipcore.directory import AccountRecord, ProviderRecord
from sipcore.endpoint import Endpoint, EndpointConfig, ServerTransactionHandle
from sipcore.events import MemoryEventSink
from sipcore.memory_directory import MemoryDirectory, account, customer
from sipcore.message import Request, Response, make_response, new_call_id, new_tag
from sipcore.testing import eventually
from sipcore.transaction import TimerConfig, build_cancel
from sipcore.transport import Peer
from sipcore.worker import SipWorker, WorkerConfig

FAST_TIMERS = EndpointConfig(timers=TimerConfig(t1=0.1, t2=0.4, t4=0.5))
"""Short timers so a lost answer is noticed within a test's patience."""


def sdp(session: str, port: int = 40000) -> bytes:
    """An SDP offer or answer naming ``session`` (to check it crossed the bridge untouched)."""
    return (
        "v=0\r\n"
        f"o={session} 1 1 IN IP4 127.0.0.1\r\n"
        "s=-\r\n"
        "c=IN IP4 127.0.0.1\r\n"
        "t=0 0\r\n"
        f"m=audio {port} RTP/AVP 0\r\n"
        "a=rtpmap:0 PCMU/8000\r\n"
    ).encode()


@dataclass(eq=False)
class PhoneCall:
    """One call of a phone, either direction."""

    phone: Phone
    peer: Peer
    invite: Request
    dialog: Dialog | None = None
    provisionals: list[Response] = field(default_factory=list)
    final: Response | None = None
    handle: ServerTransactionHandle | None = None
    to_tag: str = ""
    requests: list[Request] = field(default_factory=list)
    ringing: asyncio.Event = field(default_factory=asyncio.Event)
    answered: asyncio.Event = field(default_factory=asyncio.Event)
    ended: asyncio.Event = field(default_factory=asyncio.Event)
    cancelled: asyncio.Event = field(default_factory=asyncio.Event)
    acked: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Future[None] | None = None
    ack: Request | None = None
    remote_sdp: bytes = b""
    """The session description the other side last gave this phone (offer or answer): with
    ``local_sdp``, who this phone talks to."""
    local_sdp: bytes = b""
    """The session description this phone last gave the other side."""

    async def bye(self) -> Response:
        return await self.request("BYE")

    async def reinvite(self, body: bytes) -> Response:
        return await self.request("INVITE", body=body)

    async def request(
        self, method: str, *, body: bytes = b"", headers: list[tuple[str, str]] | None = None
    ) -> Response:
        """Send an in-dialogue request with any extra ``headers`` (a REFER's Refer-To, say);
        a 2xx to INVITE is acknowledged."""
        assert self.dialog is not None
        content_type = [("Content-Type", "application/sdp")] if body else []
        request = self.dialog.create_request(
            method, body=body, headers=[*content_type, *(headers or [])]
        )
        response = await self.phone.endpoint.send_request(request, self.peer)
        if method == "INVITE" and response.status < 300:
            answer = self.phone.answer_body if not body and response.body else b""
            ack = self.dialog.create_ack(
                request.cseq.seq, body=answer, content_type="application/sdp" if answer else None
            )
            await self.phone.endpoint.send_stateless(ack, self.peer)
            self.local_sdp = body or answer or self.local_sdp
            self.remote_sdp = response.body or self.remote_sdp
        if method == "BYE":
            self.ended.set()
        return response

    async def cancel(self) -> None:
        """CANCEL our INVITE (send once it rang)."""
        await self.phone.endpoint.send_request(build_cancel(self.invite), self.peer)

    def answer(self) -> None:
        """Answer a ringing incoming call (``mode="ring"``)."""
        assert self.handle is not None
        response = make_response(self.invite, 200, to_tag=self.to_tag)
        response.headers.add("Contact", self.phone.contact)
        response.headers.add("Content-Type", "application/sdp")
        response.body = self.phone.answer_body
        self.dialog = Dialog.uas(self.invite, response, config=self.phone.endpoint.config.timers)
        self.handle.respond(response)
        self.final = response
        self.remote_sdp, self.local_sdp = self.invite.body, response.body
        self.answered.set()


class Phone:
    """A sipcore user agent driven by a test."""

    def __init__(self, endpoint: Endpoint, local: Peer, user: str, domain: str, password: str):
        self.endpoint = endpoint
        self.local = local
        self.user = user
        self.domain = domain
        self.password = password
        self.contact = f"<sip:{user}@{local.hostport};transport={local.transport}>"
        self.server: Peer | None = None
        self.mode = "answer"
        """What an incoming INVITE gets: answer, ring (until ``PhoneCall.answer``), busy,
        or reject (with ``reject_status``)."""
        self.reject_status = 603
        self.ignore_cancel = False
        """Answer CANCEL with 200 but keep ringing, so a later answer crosses the CANCEL."""
        self.ring_delay = 0.02
        self.answer_body = sdp(f"answer-{user}")
        self.reinvite_statuses: list[int] = []
        """Failures (491, 488, ...) to answer the next in-dialogue re-INVITEs with, one each,
        before answering them 200 again."""
        self.calls: list[PhoneCall] = []
        self.incoming: asyncio.Queue[PhoneCall] = asyncio.Queue()
        self.requests: list[Request] = []
        self.users: dict[str, str] = {}
        """Provider role: accounts allowed to REGISTER and to call in (user -> password)."""
        self.realm = domain
        self.registered: list[Request] = []
        self._digest = DigestServer(secret=os.urandom(32))
        self._register_cseq = 0
        self._register_call_id = new_call_id()
        self._dialogs: dict[tuple[str, str], PhoneCall] = {}

    @classmethod
    async def start(
        cls,
        transport: str = "udp",
        *,
        user: str = "alice",
        domain: str = "example.test",
        password: str = "secret",
        server: Peer | None = None,
    ) -> Phone:
        endpoint = Endpoint(FAST_TIMERS)
        local = await endpoint.listen(transport, "127.0.0.1", 0)
        phone = cls(endpoint, local, user, domain, password)
        phone.server = server
        endpoint.on_request = phone._on_request
        return phone

    async def close(self) -> None:
        await self.endpoint.close()

    # registering ---------------------------------------------------------------------------

    async def register(self, expires: int = 600, *, contact: str | None = None) -> Response:
        """REGISTER our contact with the server, answering its digest challenge."""
        assert self.server is not None
        aor = f"<sip:{self.user}@{self.domain}>"
        client = DigestClient(username=self.user, password=self.password)
        credentials: tuple[str, str] | None = None
        tag = new_tag()
        for _ in range(3):
            self._register_cseq += 1
            headers = [
                ("From", f"{aor};tag={tag}"),
                ("To", aor),
                ("Call-ID", self._register_call_id),
                ("CSeq", f"{self._register_cseq} REGISTER"),
                ("Contact", contact or self.contact),
                ("Expires", str(expires)),
            ]
            if credentials is not None:
                headers.append(credentials)
            uri = f"sip:{self.domain}"
            response = await self.endpoint.send_request(
                Request("REGISTER", uri, headers), self.server
            )
            if response.status != 401:
                return response
            value = client.authorize(
                response.headers.get_all("WWW-Authenticate"),
                method="REGISTER",
                uri=uri,
                credentials_sent=credentials is not None,
            )
            credentials = ("Authorization", value)
        return response

    # calling -------------------------------------------------------------------------------

    async def call(
        self,
        uri: str,
        *,
        body: bytes | None = None,
        headers: list[tuple[str, str]] | None = None,
        from_user: str | None = None,
        from_host: str | None = None,
        max_forwards: int = 70,
        wait: bool = True,
    ) -> PhoneCall:
        """Call ``uri`` through the server; returns once final (or at once with wait=False:
        await ``call.answered``/``call.ended``/``call.ringing`` then)."""
        assert self.server is not None
        from_address = f"<sip:{from_user or self.user}@{from_host or self.domain}>"
        body = sdp(f"offer-{self.user}") if body is None else body
        content_type = [("Content-Type", "application/sdp")] if body else []
        invite = Request(
            "INVITE",
            uri,
            [
                ("Max-Forwards", str(max_forwards)),
                ("From", f"{from_address};tag={new_tag()}"),
                ("To", f"<{uri}>"),
                ("Call-ID", new_call_id()),
                ("CSeq", "1 INVITE"),
                ("Contact", self.contact),
                *content_type,
                *(headers or []),
            ],
            body,
        )
        call = PhoneCall(phone=self, peer=self.server, invite=invite)
        self.calls.append(call)
        task = asyncio.ensure_future(self._place(call))
        call.task = task
        if wait:
            await task
        return call

    async def _place(self, call: PhoneCall) -> None:
        client = DigestClient(username=self.user, password=self.password)
        credentials_sent = False
        while True:
            response = await self.endpoint.send_request(
                call.invite, call.peer, on_provisional=lambda r: self._provisional(call, r)
            )
            if response.status != 407:
                break
            value = client.authorize(
                response.headers.get_all("Proxy-Authenticate"),
                method="INVITE",
                uri=str(call.invite.uri),
                credentials_sent=credentials_sent,
            )
            credentials_sent = True
            retry = Request("INVITE", call.invite.uri, call.invite.headers.copy(), call.invite.body)
            retry.headers.remove("Via")
            retry.headers.set("CSeq", f"{call.invite.cseq.seq + 1} INVITE")
            retry.headers.set("Proxy-Authorization", value)
            call.invite = retry
        call.final = response
        if response.status < 300:
            call.dialog = Dialog.uac(call.invite, response, config=self.endpoint.config.timers)
            self._dialogs[(call.dialog.id.call_id, call.dialog.id.local_tag)] = call
            answer = self.answer_body if not call.invite.body and response.body else b""
            ack = call.dialog.create_ack(
                call.invite.cseq.seq,
                body=answer,
                content_type="application/sdp" if answer else None,
            )
            await self.endpoint.send_stateless(ack, call.peer)
            call.local_sdp, call.remote_sdp = call.invite.body or answer, response.body
            call.answered.set()
        else:
            call.ended.set()

    def _provisional(self, call: PhoneCall, response: Response) -> None:
        call.provisionals.append(response)
        if response.status in (180, 183):
            call.ringing.set()

    # answering -----------------------------------------------------------------------------

    async def _on_request(self, request: Request, handle: ServerTransactionHandle | None) -> None:
        self.requests.append(request)
        method = request.method
        if handle is None or method == "ACK":
            call = self._find(request)
            if call is not None:
                call.ack = request
                call.remote_sdp = request.body or call.remote_sdp
                call.acked.set()
            return
        if method == "REGISTER":
            await self._registrar(request, handle)
        elif method == "CANCEL":
            self._cancel(request, handle)
        elif request.to_addr.tag:
            self._in_dialog(request, handle)
        elif method == "INVITE":
            await self._invite(request, handle)
        else:
            handle.reply(200)

    async def _invite(self, request: Request, handle: ServerTransactionHandle) -> None:
        if self.users and not await self._authorised(request, handle, "Proxy-Authorization", 407):
            return
        call = PhoneCall(phone=self, peer=handle.source, invite=request, handle=handle)
        call.to_tag = new_tag()
        self._dialogs[(request.call_id, call.to_tag)] = call
        self.calls.append(call)
        self.incoming.put_nowait(call)
        ringing = make_response(request, 180, to_tag=call.to_tag)
        ringing.headers.add("Contact", self.contact)
        handle.respond(ringing)
        call.ringing.set()
        await asyncio.sleep(self.ring_delay)
        if call.cancelled.is_set() or self.mode == "ring":
            return
        if self.mode == "answer":
            call.answer()
        else:
            status = 486 if self.mode == "busy" else self.reject_status
            call.final = handle.reply(status, to_tag=call.to_tag)
            call.ended.set()

    def _in_dialog(self, request: Request, handle: ServerTransactionHandle) -> None:
        call = self._find(request)
        if call is None:
            handle.reply(481)
            return
        call.requests.append(request)
        if request.method == "BYE":
            handle.reply(200)
            call.ended.set()
        elif request.method == "INVITE" and self.reinvite_statuses:
            handle.reply(self.reinvite_statuses.pop(0))
        elif request.method == "INVITE":
            response = make_response(request, 200)
            response.headers.add("Contact", self.contact)
            response.headers.add("Content-Type", "application/sdp")
            response.body = self.answer_body
            handle.respond(response)
            call.remote_sdp = request.body or call.remote_sdp
            call.local_sdp = self.answer_body
        else:
            handle.reply(200)

    def _cancel(self, request: Request, handle: ServerTransactionHandle) -> None:
        invite = self.endpoint.invite_for_cancel(request)
        if invite is None:
            handle.reply(481)
            return
        handle.reply(200)
        for call in self.calls:
            if call.handle is invite and call.final is None and not self.ignore_cancel:
                call.cancelled.set()
                call.final = invite.reply(487, to_tag=call.to_tag)
                call.ended.set()

    def _find(self, request: Request) -> PhoneCall | None:
        return self._dialogs.get((request.call_id, request.to_addr.tag or ""))

    # provider role -------------------------------------------------------------------------

    async def _registrar(self, request: Request, handle: ServerTransactionHandle) -> None:
        if not await self._authorised(request, handle, "Authorization", 401):
            return
        self.registered.append(request)
        expires = request.expires if request.expires is not None else 600
        contacts = [("Contact", f"{contact};expires={expires}") for contact in request.contacts]
        handle.reply(200, headers=contacts)

    async def _authorised(
        self, request: Request, handle: ServerTransactionHandle, header: str, status: int
    ) -> bool:
        outcome = await self._digest.verify(
            request.headers.get_all(header),
            method=request.method,
            uri=str(request.uri),
            realm=self.realm,
            lookup=password_lookup(self.users),
            now=time.time(),
        )
        if isinstance(outcome, Accepted):
            return True
        challenge = "WWW-Authenticate" if status == 401 else "Proxy-Authenticate"
        values = self._digest.challenge(self.realm, now=time.time())
        handle.reply(status, headers=[(challenge, value) for value in values])
        return False


# a worker with accounts and phones --------------------------------------------------------
DOMAIN = "example.test"
PASSWORD = "secret"


def hashes(user: str, password: str = PASSWORD, realm: str = DOMAIN) -> dict[str, str]:
    return {algorithm: ha1(user, realm, password, algorithm) for algorithm in ("MD5", "SHA-256")}


@dataclass
class World:
    worker: SipWorker
    directory: MemoryDirectory
    events: MemoryEventSink
    addresses: dict[str, Peer]
    domain: str = DOMAIN
    phones: list[Phone] = field(default_factory=list)

    def add_account(self, user: str, **fields: object) -> AccountRecord:
        owner = fields.pop("owner", None) or customer(1)
        record = account(owner, user, self.domain, hashes(user, realm=self.domain), **fields)
        return self.directory.add_account(record)

    def change_account(self, user: str, **fields: object) -> AccountRecord:
        record = self.directory.accounts[(user, self.domain)]
        return self.directory.add_account(replace(record, **fields))

    def add_trunk(self, provider_id: int, server: str, *, register_contact: str = "") -> None:
        """Customer 1's provider "trunk" at ``server`` (host:port), which the worker does not
        register with; ``register_contact`` names the account a call in from it reaches."""
        self.directory.add_provider(
            ProviderRecord(
                id=provider_id,
                customer_id=1,
                name="trunk",
                server_uri=f"sip:{server}",
                outbound_proxy="",
                username="trunk-user",
                auth_username="",
                password="trunk-secret",
                from_user="",
                from_host="",
                custom_headers=(),
                register=False,
                register_contact=register_contact,
                register_expiry=60,
            )
        )

    async def phone(
        self, user: str, transport: str = "udp", *, register: bool = True, **settings: object
    ) -> Phone:
        phone = await Phone.start(
            transport,
            user=user,
            domain=self.domain,
            password=PASSWORD,
            server=self.addresses[transport],
        )
        for name, value in settings.items():
            setattr(phone, name, value)
        self.phones.append(phone)
        if register:
            response = await phone.register()
            assert response.status == 200, response
        return phone

    async def settle(self, predicate, timeout: float = 5.0) -> None:
        """Wait until ``predicate()`` holds (for effects that follow a response)."""
        await eventually(predicate, timeout)

    def details(self) -> list[dict]:
        return [dict(payload) for payload in self.events.call_details]


@contextlib.asynccontextmanager
async def running_world(
    *,
    domain: str = DOMAIN,
    directory: MemoryDirectory | None = None,
    events: MemoryEventSink | None = None,
    **config: object,
) -> AsyncIterator[World]:
    """A started SipWorker serving ``domain`` (``config``: WorkerConfig fields to change);
    workers of one platform share a ``directory`` and ``events``."""
    if directory is None:
        directory = MemoryDirectory()
        directory.add_domain(domain)
    events = MemoryEventSink() if events is None else events
    settings: dict[str, object] = {
        "worker_id": "test-worker",
        "default_domain": domain,
        "nonce_secret": b"n" * 32,
        "dialplan_pool_size": 1,
        "endpoint": FAST_TIMERS,
        "register_providers": False,
    }
    settings.update(config)
    worker = SipWorker(directory=directory, events=events, config=WorkerConfig(**settings))
    bound = await worker.start([("udp", "127.0.0.1", 0), ("tcp", "127.0.0.1", 0)])
    addresses = {kind: Peer(kind, host, port) for kind, host, port in bound}  # type: ignore[arg-type]
    world = World(worker, directory, events, addresses, domain)
    try:
        yield world
    finally:
        await worker.drain(0)
        for phone in world.phones:
            await phone.close()
        await worker.close()


# real phones ---------------------------------------------------------------------------------


MODULE_PATH = "/usr/lib/baresip/modules"


def write_tone(path: Path, seconds: float = 1.0) -> None:
    """An 8 kHz mono WAV of silence for baresip's aufile source."""
    with wave.open(str(path), "wb") as output:
        output.setnchannels(1)
        output.setsampwidth(2)
        output.setframerate(8000)
        output.writeframes(b"\x00\x00" * int(8000 * seconds))


_LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d:\d{3} ")
_TRACED = re.compile(r"(message sent to|received \[\d+\] new bytes from) \[(\w+)://([^\]]+)\]")
_AUDIO = re.compile(r"^m=audio (\d+) ", re.MULTILINE)
_BARESIP_ROUTE = re.compile(r"^(UDP|TCP|TLS) (\S+) -> (\S+)$")


@dataclass(frozen=True, slots=True)
class TracedMessage:
    """One SIP message a real phone sent or received, as its debug log shows it."""

    sent: bool
    peer: str
    start_line: str
    headers: tuple[tuple[str, str], ...]
    body: str

    def header(self, name: str) -> str | None:
        wanted = name.lower()
        return next((value for key, value in self.headers if key.lower() == wanted), None)

    @property
    def is_request(self) -> bool:
        return not self.start_line.startswith("SIP/2.0 ")

    @property
    def method(self) -> str:
        """The request's method, or the method its CSeq names for a response."""
        if self.is_request:
            return self.start_line.split(" ", 1)[0]
        return (self.header("CSeq") or " ").split()[-1]

    @property
    def status(self) -> int | None:
        return None if self.is_request else int(self.start_line.split()[1])

    @property
    def call_id(self) -> str:
        return self.header("Call-ID") or self.header("i") or ""

    @property
    def audio_port(self) -> int | None:
        """The port of the SDP's audio stream, when the message carries SDP."""
        match = _AUDIO.search(self.body)
        return int(match[1]) if match else None


@dataclass(frozen=True, slots=True)
class TracedDialogue:
    """An INVITE dialogue of a real phone as its trace shows it: the audio port it offered or
    answered last (``local``), the one the other side gave last (``remote``), whether a 2xx
    answered it and whether a BYE ended it."""

    call_id: str
    local: int | None
    remote: int | None
    confirmed: bool
    ended: bool


class SipTraceReader:
    """Reads a liblinphone debug log (``-d 6``) as it is written, keeping only its SIP
    messages: a line ``... message sent to [UDP://host:port] ...`` or ``... received [N] new
    bytes from [UDP://host:port]:`` starts one, the next time-stamped line ends it."""

    def __init__(self) -> None:
        self.messages: list[TracedMessage] = []
        self._partial = ""
        self._block: list[str] | None = None
        self._header: re.Match[str] | None = None

    def feed(self, text: str) -> None:
        lines = (self._partial + text).split("\n")
        self._partial = lines.pop()
        for line in lines:
            self._line(line.rstrip("\r"))

    def _line(self, line: str) -> None:
        if not _LOG_LINE.match(line):
            if self._block is not None:
                self._block.append(line)
            return
        self._finish()
        found = _TRACED.search(line)
        if found is not None:
            self._header, self._block = found, []

    def _finish(self) -> None:
        block, found = self._block, self._header
        self._block = self._header = None
        if block is None or found is None:
            return
        message = _message(found[1] == "message sent to", found[3], block)
        if message is not None:
            self.messages.append(message)


def read_sip_trace(text: str) -> list[TracedMessage]:
    """The SIP messages in a complete liblinphone debug log, in order."""
    reader = SipTraceReader()
    reader.feed(text + "\n0000-00-00 00:00:00:000 end\n")
    return reader.messages


def _message(sent: bool, peer: str, block: list[str]) -> TracedMessage | None:
    """A message from its logged lines (start line, headers, blank line, body)."""
    if not block or not block[0].strip():
        return None
    blank = block.index("") if "" in block else len(block)
    headers = tuple(
        (name.strip(), value.strip())
        for name, _, value in (line.partition(":") for line in block[1:blank])
    )
    body = "\n".join(block[blank + 1 :]).strip()
    return TracedMessage(sent, peer, block[0].strip(), headers, body)


class BaresipTraceReader:
    """Reads baresip's ``-s`` output as it is written: each SIP message is framed by an
    ANSI-coloured ``#`` line, a ``UDP from -> to`` line, and a colour reset. ``sip_port``
    tells the messages it sent from those it received."""

    def __init__(self, sip_port: int) -> None:
        self.sip_port = sip_port
        self.messages: list[TracedMessage] = []
        self._partial = ""
        self._framed = False
        self._route: re.Match[str] | None = None
        self._block: list[str] = []

    def feed(self, text: str) -> None:
        lines = (self._partial + text).split("\n")
        self._partial = lines.pop()
        for line in lines:
            self._line(line.rstrip("\r"))

    def _line(self, line: str) -> None:
        if self._route is not None:
            if line.startswith("\x1b["):
                sent = self._route[2].rsplit(":", 1)[-1] == str(self.sip_port)
                message = _message(sent, self._route[3], self._block)
                if message is not None:
                    self.messages.append(message)
                self._route, self._block = None, []
            else:
                self._block.append(line)
            return
        route = _BARESIP_ROUTE.match(line) if self._framed else None
        self._framed = line.endswith("#")
        if route is not None:
            self._route = route


def traced_dialogues(messages: list[TracedMessage]) -> list[TracedDialogue]:
    """Each INVITE dialogue in ``messages``, in the order they began."""
    calls: dict[str, dict[str, Any]] = {}
    for message in messages:
        if message.method not in ("INVITE", "ACK", "BYE") or not message.call_id:
            continue
        state = calls.setdefault(
            message.call_id,
            {"local": None, "remote": None, "confirmed": False, "ended": False},
        )
        if message.method == "BYE":
            state["ended"] = True
        if message.method == "INVITE" and 200 <= (message.status or 0) < 300:
            state["confirmed"] = True
        if message.audio_port is not None:
            state["local" if message.sent else "remote"] = message.audio_port
    return [TracedDialogue(call_id, **state) for call_id, state in calls.items()]


class PtyCapture:
    """A pseudo-terminal a real phone writes its log to, read here as it is written (on a
    terminal stdio buffers by line; a file or pipe would hold back kilobytes). What arrives
    goes to ``feed`` and is copied to ``copy`` (to read after a failing run)."""

    def __init__(self, feed: Callable[[str], None], copy: Path) -> None:
        self._feed = feed
        self._copy = copy.open("ab")
        self.master, self.slave = pty.openpty()
        tty.setraw(self.slave)
        os.set_blocking(self.master, False)
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(self.master, self._readable)
        self.path = os.ttyname(self.slave)

    def _readable(self) -> None:
        try:
            data = os.read(self.master, 65536)
        except BlockingIOError:
            return
        except OSError:
            self._loop.remove_reader(self.master)
            return
        self._copy.write(data)
        self._feed(data.decode(errors="replace"))

    def close(self) -> None:
        self._loop.remove_reader(self.master)
        for fd in (self.master, self.slave):
            with contextlib.suppress(OSError):
                os.close(fd)
        self._copy.close()


class TracedPhone:
    """What a real phone's SIP trace tells: its messages, its dialogues, the NOTIFYs it got."""

    _trace: SipTraceReader | BaresipTraceReader

    def sip_messages(self) -> list[TracedMessage]:
        """Every SIP message sent or received so far (needs ``trace``)."""
        return list(self._trace.messages)

    def dialogues(self) -> list[TracedDialogue]:
        """Each INVITE dialogue the trace shows, in the order they began."""
        return traced_dialogues(self.sip_messages())

    def live_dialogues(self) -> list[TracedDialogue]:
        """The dialogues answered and not ended by a BYE."""
        return [d for d in self.dialogues() if d.confirmed and not d.ended]

    def notifies(self) -> list[TracedMessage]:
        """The NOTIFY requests the phone received (a transferor's view of its transfer),
        each once however often it was retransmitted."""
        return _once(
            m for m in self.sip_messages() if not m.sent and m.is_request and m.method == "NOTIFY"
        )

    def responses(self, method: str) -> list[TracedMessage]:
        """The final responses the phone received to its ``method`` requests, each once."""
        return _once(
            m
            for m in self.sip_messages()
            if not m.sent and (m.status or 0) >= 200 and m.method == method
        )


def _once(messages: Iterable[TracedMessage]) -> list[TracedMessage]:
    """``messages`` without retransmissions: one per Call-ID and CSeq."""
    seen: dict[tuple[str, str], TracedMessage] = {}
    for message in messages:
        seen.setdefault((message.call_id, message.header("CSeq") or ""), message)
    return list(seen.values())


class Baresip(TracedPhone):
    """A baresip process with its own config directory, driven over ctrl_tcp (PEERS.md)."""

    def __init__(self, directory: Path, sip_port: int, ctrl_port: int, rtp_ports: str) -> None:
        self.directory = directory
        self.sip_port = sip_port
        self.ctrl_port = ctrl_port
        self.rtp_ports = rtp_ports
        self._trace = BaresipTraceReader(sip_port)
        self._capture: PtyCapture | None = None
        self.process: asyncio.subprocess.Process | None = None
        self.events: list[dict[str, Any]] = []
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._responses: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._event_arrived = asyncio.Event()
        self._pump: asyncio.Task[None] | None = None

    @staticmethod
    def available() -> bool:
        return shutil.which("baresip") is not None

    def configure(self, account_line: str, *, tone_seconds: float = 1.0) -> None:
        """Config and accounts files; baresip hangs up when its audio file ends, so a test
        whose calls must last gives ``tone_seconds`` to match."""
        self.directory.mkdir(parents=True, exist_ok=True)
        write_tone(self.directory / "silence.wav", tone_seconds)
        config = [
            f"module_path {MODULE_PATH}",
            f"sip_listen 127.0.0.1:{self.sip_port}",
            "net_interface 127.0.0.1",
            f"rtp_ports {self.rtp_ports}",
            f"audio_source aufile,{self.directory / 'silence.wav'}",
            "audio_player aubridge,none",
            "audio_alert aubridge,none",
            "module g711.so",
            "module aufile.so",
            "module aubridge.so",
            "module_tmp uuid.so",
            "module_tmp account.so",
            "module_app menu.so",
            "module_app ctrl_tcp.so",
            f"ctrl_tcp_listen 127.0.0.1:{self.ctrl_port}",
        ]
        (self.directory / "config").write_text("\n".join(config) + "\n")
        (self.directory / "accounts").write_text(account_line + "\n")

    async def start(self, *, sip_trace: Path | None = None, trace: bool = False) -> None:
        """Start baresip and connect to its control port; ``sip_trace`` keeps its output with
        every SIP message (``-s``), for reading after a failing run; ``trace`` reads those
        messages as they are printed (``sip_messages``, ``dialogues``; copied to
        ``sip.log`` in its directory)."""
        if trace:
            self._capture = PtyCapture(self._trace.feed, self.directory / "sip.log")
        printing = [] if sip_trace is None and not trace else ["-s"]
        with contextlib.ExitStack() as files:
            output: Any = asyncio.subprocess.DEVNULL
            if self._capture is not None:
                output = self._capture.slave
            elif sip_trace is not None:
                output = files.enter_context(sip_trace.open("wb"))
            self.process = await asyncio.create_subprocess_exec(
                "baresip",
                "-f",
                str(self.directory),
                *printing,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=output,
                stderr=asyncio.subprocess.STDOUT,
            )
        for _ in range(100):
            try:
                self._reader, self._writer = await asyncio.open_connection(
                    "127.0.0.1", self.ctrl_port
                )
                break
            except OSError:
                await asyncio.sleep(0.05)
        else:
            await self.stop()
            raise RuntimeError("baresip control port never opened")
        self._pump = asyncio.ensure_future(self._read())

    async def command(self, command: str, params: str = "") -> dict[str, Any]:
        assert self._writer is not None
        data = json.dumps({"command": command, "params": params, "token": command}).encode()
        self._writer.write(f"{len(data)}:".encode() + data + b",")
        await self._writer.drain()
        async with asyncio.timeout(5):
            return await self._responses.get()

    async def wait_event(self, kind: str, timeout: float = 10.0) -> dict[str, Any]:
        async with asyncio.timeout(timeout):
            while True:
                for event in self.events:
                    if event.get("type") == kind:
                        self.events.remove(event)
                        return event
                self._event_arrived.clear()
                await self._event_arrived.wait()

    async def _read(self) -> None:
        assert self._reader is not None
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            while True:
                length = int((await self._reader.readuntil(b":"))[:-1])
                message = json.loads(await self._reader.readexactly(length))
                await self._reader.readexactly(1)
                if message.get("event"):
                    self.events.append(message)
                    self._event_arrived.set()
                else:
                    self._responses.put_nowait(message)

    async def stop(self) -> None:
        with contextlib.suppress(Exception):
            async with asyncio.timeout(2):
                await self.command("quit")
        if self._pump is not None:
            self._pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pump
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(ConnectionError):
                await self._writer.wait_closed()
        process = self.process
        if process is not None and process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.terminate()
            try:
                async with asyncio.timeout(3):
                    await process.wait()
            except TimeoutError:
                process.kill()
                await process.wait()
        if self._capture is not None:
            self._capture.close()
            self._capture = None


LINPHONERC = """\
[sip]
sip_port={udp_port}
sip_tcp_port={tcp_port}
sip_tls_port=0
bind_address=127.0.0.1
guess_hostname=0
register_only_when_network_is_up=0
ping_with_options=0
default_proxy=0

[proxy_0]
reg_proxy=<{proxy}>
{route}reg_identity="{user}" <sip:{user}@{domain}>
reg_expires=300
reg_sendregister=1
publish=0

[auth_info_0]
username={user}
passwd={password}
realm={domain}

[rtp]
audio_rtp_port={rtp_port}

[sound]
echocancellation=0

[video]
enabled=0
capture=0
display=0
"""
"""linphonec's settings (PEERS.md): one account, no TLS, no video, no echo canceller."""


def write_linphonerc(
    home: Path,
    user: str,
    password: str,
    domain: str,
    proxy: str,
    *,
    route: str = "",
    udp_port: int,
    tcp_port: int = 0,
    rtp_port: int,
) -> Path:
    """linphonec's home ``home``, made ready: its data directory and a ``linphonerc`` that
    registers ``user`` at ``proxy`` (a SIP URI), sent by way of ``route`` if given. The
    ``linphonerc``'s path."""
    (home / ".local" / "share" / "linphone").mkdir(parents=True, exist_ok=True)
    config = home / "linphonerc"
    config.write_text(
        LINPHONERC.format(
            udp_port=udp_port,
            tcp_port=tcp_port,
            proxy=proxy,
            route=f"reg_route=<{route}>\n" if route else "",
            user=user,
            password=password,
            domain=domain,
            rtp_port=rtp_port,
        )
    )
    return config


class Linphone(TracedPhone):
    """A linphonec process driven through its stdin/stdout; it answers calls itself unless
    ``auto_answer`` is False (then ``answer``). With ``trace`` it logs every SIP message
    (``-d 6 -l``), which ``sip_messages`` and ``dialogues`` read back: the session
    descriptions the phone really holds."""

    def __init__(
        self,
        home: Path,
        sip_port: int,
        rtp_port: int,
        *,
        auto_answer: bool = True,
        trace: bool = False,
    ) -> None:
        self.home = home
        self.sip_port = sip_port
        self.rtp_port = rtp_port
        self.auto_answer = auto_answer
        self.trace = trace
        self._trace = SipTraceReader()
        self._capture: PtyCapture | None = None
        self.process: asyncio.subprocess.Process | None = None
        self.lines: list[str] = []
        self._line_arrived = asyncio.Event()
        self._pump: asyncio.Task[None] | None = None

    @staticmethod
    def available() -> bool:
        return shutil.which("linphonec") is not None

    def configure(self, user: str, password: str, server: Peer) -> None:
        """An account registering to ``server`` over its transport (PEERS.md's settings)."""
        udp, tcp = (self.sip_port, 0) if server.transport == "udp" else (0, self.sip_port)
        proxy = f"sip:{server.hostport};transport={server.transport}"
        write_linphonerc(
            self.home,
            user,
            password,
            DOMAIN,
            proxy,
            route=f"{proxy};lr",
            udp_port=udp,
            tcp_port=tcp,
            rtp_port=self.rtp_port,
        )

    async def start(self) -> None:
        answering = ["-a"] if self.auto_answer else []
        logging = ["-d", "0"]
        if self.trace:
            self._capture = PtyCapture(self._trace.feed, self.log_path)
            logging = ["-d", "6", "-l", self._capture.path]
        self.process = await asyncio.create_subprocess_exec(
            "linphonec",
            "-c",
            str(self.home / "linphonerc"),
            *answering,
            *logging,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env=dict(os.environ, HOME=str(self.home)),
        )
        self._pump = asyncio.ensure_future(self._read())

    @property
    def log_path(self) -> Path:
        """Where the debug log is copied as it arrives (to read after a failing run)."""
        return self.home / "sip.log"

    def _close_trace(self) -> None:
        if self._capture is not None:
            self._capture.close()
            self._capture = None

    async def command(self, line: str) -> None:
        assert self.process is not None and self.process.stdin is not None
        self.process.stdin.write(line.encode() + b"\n")
        await self.process.stdin.drain()

    async def wait_line(self, text: str, timeout: float = 10.0) -> str:
        """The first output line (not yet waited for) that contains ``text``."""
        async with asyncio.timeout(timeout):
            while True:
                for index, line in enumerate(self.lines):
                    if text in line:
                        del self.lines[: index + 1]
                        return line
                self._line_arrived.clear()
                await self._line_arrived.wait()

    async def _read(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        while line := await self.process.stdout.readline():
            self.lines.append(line.decode(errors="replace"))
            self._line_arrived.set()

    async def stop(self) -> None:
        process = self.process
        if process is None:
            return
        with contextlib.suppress(ConnectionError):
            await self.command("quit")
        try:
            async with asyncio.timeout(5):
                await process.wait()
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
        if self._pump is not None:
            self._pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pump
        self._close_trace()
