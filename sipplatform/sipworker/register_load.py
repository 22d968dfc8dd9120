"""Digest registrations at a fixed rate, for the benchmark: REGISTER, 401, REGISTER, 200.

SIPp 3.6 answers only the first ``WWW-Authenticate`` of a 401 and knows only MD5, while the
platform offers SHA-256 first (RFC 8760), so the benchmark registers with this open-loop
generator instead: raw UDP, answers computed by ``sipcore.auth.DigestClient`` (SHA-256), one
new registration every ``1/rate`` seconds whatever the server's pace, each given
``timeout`` seconds to end in 200. Nothing is retransmitted: on loopback a lost answer means
an overloaded server, and counts as a failure.
"""

from __future__ import annotations

import asyncio
import secrets
import socket
import time
from collections import Counter
from dataclasses import dataclass, field

from sipcore.auth import CredentialsRejected, DigestClient, NoUsableChallenge

TICK = 0.01
RECEIVE_BUFFER = 4 * 1024 * 1024
DEFAULT_TIMEOUT = 8.0


@dataclass
class Registration:
    user: str
    client: DigestClient
    tag: str = field(default_factory=lambda: secrets.token_hex(6))
    answered: bool = False


@dataclass(frozen=True)
class RegistrationRun:
    rate: int
    attempted: int
    successful: int
    refusals: Counter[int]
    """Final statuses other than 200, and how often each came."""
    unanswered: int

    @property
    def failure_ratio(self) -> float:
        return 1.0 if not self.attempted else (self.attempted - self.successful) / self.attempted


class RegistrationLoad(asyncio.DatagramProtocol):
    """Registers ``users`` (round robin) with the registrar at ``server`` and counts 200s."""

    def __init__(self, server: tuple[str, int], domain: str, users: list[str], password: str):
        self.server = server
        self.domain = domain
        self.users = users
        self.password = password
        self.transport: asyncio.DatagramTransport | None = None
        self.pending: dict[str, Registration] = {}
        self.successful = 0
        self.refusals: Counter[int] = Counter()

    def connection_made(self, transport) -> None:
        self.transport = transport
        # The load must not be what drops answers: a deep queue, as the worker has.
        sock = transport.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None

    def datagram_received(self, data: bytes, addr) -> None:
        head = data.partition(b"\r\n\r\n")[0].decode("utf-8", "replace").split("\r\n")
        status = int(head[0].split(" ", 2)[1])
        headers = [line.partition(":") for line in head[1:]]
        call_id = next((v.strip() for n, _, v in headers if n.lower() in ("call-id", "i")), "")
        registration = self.pending.get(call_id)
        if registration is None:
            return
        if status == 401 and not registration.answered:
            challenges = [v.strip() for n, _, v in headers if n.lower() == "www-authenticate"]
            try:
                answer = registration.client.authorize(
                    challenges, method="REGISTER", uri=f"sip:{self.domain}"
                )
            except (NoUsableChallenge, CredentialsRejected):
                self.refusals[status] += 1
                del self.pending[call_id]
                return
            registration.answered = True
            self._send(call_id, registration, cseq=2, authorization=answer)
        elif status == 200:
            self.successful += 1
            del self.pending[call_id]
        elif status >= 300:
            self.refusals[status] += 1
            del self.pending[call_id]

    def start_one(self, index: int) -> None:
        user = self.users[index % len(self.users)]
        registration = Registration(user, DigestClient(username=user, password=self.password))
        call_id = f"{secrets.token_hex(8)}@bench"
        self.pending[call_id] = registration
        self._send(call_id, registration, cseq=1)

    def _send(
        self, call_id: str, registration: Registration, *, cseq: int, authorization: str = ""
    ) -> None:
        assert self.transport is not None
        host, port = self.transport.get_extra_info("sockname")[:2]
        aor = f"sip:{registration.user}@{self.domain}"
        lines = [
            f"REGISTER sip:{self.domain} SIP/2.0",
            f"Via: SIP/2.0/UDP {host}:{port};branch=z9hG4bK{secrets.token_hex(8)};rport",
            "Max-Forwards: 70",
            f"From: <{aor}>;tag={registration.tag}",
            f"To: <{aor}>",
            f"Call-ID: {call_id}",
            f"CSeq: {cseq} REGISTER",
            f"Contact: <sip:{registration.user}@{host}:{port}>",
            "Expires: 3600",
        ]
        if authorization:
            lines.append(f"Authorization: {authorization}")
        lines += ["Content-Length: 0", "", ""]
        self.transport.sendto("\r\n".join(lines).encode(), self.server)


async def register_at_rate(
    server: tuple[str, int],
    *,
    domain: str,
    users: list[str],
    password: str,
    rate: int,
    seconds: float,
    timeout: float = DEFAULT_TIMEOUT,
) -> RegistrationRun:
    """Start ``rate`` registrations a second for ``seconds``; count those that ended in 200."""
    loop = asyncio.get_running_loop()
    transport, load = await loop.create_datagram_endpoint(
        lambda: RegistrationLoad(server, domain, users, password), local_addr=("127.0.0.1", 0)
    )
    attempted = max(1, round(rate * seconds))
    try:
        started = time.monotonic()
        for index in range(attempted):
            due = started + index / rate
            if due - time.monotonic() > TICK:
                await asyncio.sleep(due - time.monotonic())
            load.start_one(index)
        deadline = time.monotonic() + timeout
        while load.pending and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
    finally:
        transport.close()
    return RegistrationRun(
        rate=rate,
        attempted=attempted,
        successful=load.successful,
        refusals=load.refusals,
        unanswered=len(load.pending),
    )
