"""SecuredEndpoint on real UDP sockets (127.0.0.1, ports picked by the kernel): dropped
messages get no answer and create no transaction, wrong passwords lead to a ban that ends by
itself, floods are cut, and the application needs no hook of its own. Loopback is exempt by
default (a load balancer on the same machine), so these servers exempt nothing."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from sipcore.account_auth import AuthReport
from sipcore.auth import Accepted, DigestClient, DigestServer, RejectReason, ha1
from sipcore.b2bua.background import Background
from sipcore.endpoint import ServerTransactionHandle
from sipcore.events import MemoryEventSink
from sipcore.message import Request, Response, new_branch, new_call_id, new_tag, parse_message
from sipcore.security import (
    BanPolicy,
    DropReason,
    GateConfig,
    MemoryCounterStore,
    SecurityGate,
    SecurityService,
)
from sipcore.security.endpoint import SecuredEndpoint

REALM = "example.test"
CAPTURES = Path(__file__).parent / "sipvicious"


@dataclass
class Server:
    endpoint: SecuredEndpoint
    service: SecurityService
    events: MemoryEventSink
    port: int


def digest_app(digest: DigestServer, report: AuthReport):
    """A registrar in miniature: 401 without credentials, 200 or 403 with them, each verdict
    reported with the client's address as ``sipcore.account_auth`` does."""

    def lookup(username: str, realm: str, algorithm: str) -> str | None:
        return ha1(username, realm, "secret", algorithm) if username == "alice" else None

    async def on_request(request: Request, handle: ServerTransactionHandle | None) -> None:
        if handle is None:
            return
        if request.method != "REGISTER":
            handle.reply(200)
            return
        now = time.time()
        outcome = await digest.verify(
            request.headers.get_all("Authorization"),
            method="REGISTER",
            uri=str(request.uri),
            realm=REALM,
            lookup=lookup,
            now=now,
        )
        if isinstance(outcome, Accepted):
            report.credentials_proved(outcome.username, REALM)
        elif outcome.is_failure:
            report.credentials_failed(handle.client.host, outcome.username, REALM, now)
        if isinstance(outcome, Accepted):
            handle.reply(200)
        elif outcome.reason is RejectReason.MISSING or outcome.stale:
            headers = [("WWW-Authenticate", v) for v in digest.challenge(REALM, now=now)]
            handle.reply(401, headers=headers)
        else:
            handle.reply(403)

    return on_request


@contextlib.asynccontextmanager
async def secured_server(
    policy: BanPolicy | None = None, gate: GateConfig | None = None
) -> AsyncIterator[Server]:
    background = Background()
    events = MemoryEventSink()
    service = SecurityService(
        gate=SecurityGate(gate or GateConfig(exempt_networks=())),
        store=MemoryCounterStore(),
        policy=policy or BanPolicy(max_source_failures=3, first_ban=1.0),
        events=events,
        spawn=lambda coroutine: background.spawn(coroutine, "security"),
    )
    endpoint = SecuredEndpoint(security=service, clock=time.time)
    endpoint.on_request = digest_app(DigestServer(secret=b"s" * 32, algorithms=("MD5",)), service)
    peer = await endpoint.listen("udp", "127.0.0.1", 0)
    try:
        yield Server(endpoint, service, events, peer.port)
    finally:
        await background.close()
        await endpoint.close()


class BareUdpSocket:
    """A UDP socket on 127.0.0.1 that sends requests to ``server`` and says whether a final
    answer came back."""

    answer_wait = 0.4
    """Seconds ``exchange`` waits for an answer before it takes the request for dropped."""

    def __init__(self, server: tuple[str, int]) -> None:
        self.server = server
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.setblocking(False)
        self.port = self.sock.getsockname()[1]

    def close(self) -> None:
        self.sock.close()

    async def exchange(self, data: bytes) -> Response | None:
        loop = asyncio.get_running_loop()
        await loop.sock_sendto(self.sock, data, self.server)
        try:
            async with asyncio.timeout(self.answer_wait):
                while True:
                    answer = parse_message(await loop.sock_recv(self.sock, 65535))
                    if isinstance(answer, Response) and answer.status >= 200:
                        return answer
        except TimeoutError:
            return None


class Client(BareUdpSocket):
    """A bare UDP socket registering alice with the server on ``port``."""

    def __init__(self, port: int) -> None:
        super().__init__(("127.0.0.1", port))

    def request(self, method: str = "REGISTER", *, headers=(), call_id: str = "") -> bytes:
        lines = [
            f"{method} sip:{REALM} SIP/2.0",
            f"Via: SIP/2.0/UDP 127.0.0.1:{self.port};branch={new_branch()};rport",
            "Max-Forwards: 70",
            f"From: <sip:alice@{REALM}>;tag={new_tag()}",
            f"To: <sip:alice@{REALM}>",
            f"Call-ID: {call_id or new_call_id()}",
            f"CSeq: 1 {method}",
            f"Contact: <sip:alice@127.0.0.1:{self.port}>",
            *(f"{name}: {value}" for name, value in headers),
            "Content-Length: 0",
            "",
            "",
        ]
        return "\r\n".join(lines).encode()

    async def register(self, password: str) -> Response | None:
        challenge = await self.exchange(self.request())
        assert challenge is not None and challenge.status == 401
        client = DigestClient(username="alice", password=password)
        authorization = client.authorize(
            challenge.headers.get_all("WWW-Authenticate"), method="REGISTER", uri=f"sip:{REALM}"
        )
        return await self.exchange(self.request(headers=[("Authorization", authorization)]))


async def settle(predicate, timeout: float = 3.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.01)


async def test_wrong_passwords_ban_the_source_silently_until_the_ban_ends():
    async with secured_server(BanPolicy(max_source_failures=3, first_ban=1.0)) as server:
        client = Client(server.port)
        try:
            assert (await client.register("secret")).status == 200  # a good one first
            statuses = [(await client.register("guess")).status for _ in range(3)]
            assert statuses == [403, 403, 403]
            await settle(lambda: "security.banned" in server.events.kinds())
            transactions = len(server.endpoint.layer)
            assert await client.exchange(client.request()) is None  # dropped, unanswered
            assert await client.exchange(client.request("INVITE")) is None  # no 100 Trying
            assert len(server.endpoint.layer) == transactions  # and nothing left waiting
            banned = server.events.events[-1]
            assert banned.data["value"] == "127.0.0.1" and banned.data["seconds"] == 1.0
            await asyncio.sleep(1.05)
            await server.service.refresh(time.time())
            assert (await client.register("secret")).status == 200
            assert server.events.kinds()[-1] == "security.unbanned"
        finally:
            client.close()


async def test_a_scanner_gets_no_answer_and_is_banned_at_once():
    async with secured_server() as server:
        client = Client(server.port)
        try:
            svwar = (CAPTURES / "svwar_register_100.sip").read_bytes()
            assert await client.exchange(svwar) is None
            await settle(lambda: "security.banned" in server.events.kinds())
            assert server.events.kinds() == ["security.scanner", "security.banned"]
            assert await client.exchange(client.request("OPTIONS")) is None  # banned now
            assert server.service.gate.stats.dropped[DropReason.BANNED] == 1
        finally:
            client.close()


async def test_a_banned_source_gets_no_400_for_a_malformed_request():
    async with secured_server() as server:
        client = Client(server.port)
        try:
            malformed = client.request("OPTIONS").replace(b"Max-Forwards: 70", b"Max-Forwards: x")
            answer = await client.exchange(malformed)
            assert answer is not None and answer.status == 400  # answered while not banned
            await client.exchange((CAPTURES / "svmap_options.sip").read_bytes())
            await settle(lambda: "security.banned" in server.events.kinds())
            assert await client.exchange(malformed) is None
        finally:
            client.close()


async def test_a_flood_is_cut_to_the_rate_and_reported_once():
    gate = GateConfig(request_rate=2, request_burst=5, exempt_networks=())
    async with secured_server(gate=gate) as server:
        client = Client(server.port)
        loop = asyncio.get_running_loop()
        try:
            for _ in range(40):
                await loop.sock_sendto(client.sock, client.request("OPTIONS"), client.server)
            await settle(lambda: server.service.gate.stats.dropped[DropReason.RATE] >= 34)
            assert server.service.gate.stats.allowed <= 6
            assert server.events.kinds() == ["security.flood"]
        finally:
            client.close()


async def test_an_exempt_network_is_never_banned():
    policy = BanPolicy(max_source_failures=1, first_ban=60)
    async with secured_server(policy, GateConfig(exempt_networks=("127.0.0.0/8",))) as server:
        client = Client(server.port)
        try:
            for _ in range(3):
                assert (await client.register("guess")).status == 403
            assert (await client.register("secret")).status == 200
            assert "security.banned" not in server.events.kinds()
        finally:
            client.close()
