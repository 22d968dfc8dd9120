"""A small UAS on the sipcore endpoint, for interop tests with real phones and tools.

It answers OPTIONS with 200; REGISTER with a digest challenge and then 200 (sipcore.auth); an
INVITE with 180 and a 200 carrying an SDP answer (the 2xx retransmitted until the ACK, RFC 3261
§13.3.1.4); CANCEL of a ringing INVITE; BYE with 200. It has no media: the SDP answer names a port
nobody listens on. Run it by hand with `python -m sipcore.uas_demo --udp 127.0.0.1:15060`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from sipcore.auth import Accepted, DigestServer, password_lookup
from sipcore.endpoint import Endpoint, EndpointConfig, ServerTransactionHandle
from sipcore.errors import LocalProtocolError
from sipcore.message import ParseError, Request, Response, make_response, new_tag

log = logging.getLogger(__name__)

ALLOW = "INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER"
SUPPORTED_CODECS = {"0": "PCMU/8000", "8": "PCMA/8000"}


@dataclass(slots=True)
class Call:
    """An answered (or ringing) INVITE: what is needed to retransmit the 2xx and end the call."""

    handle: ServerTransactionHandle
    to_tag: str
    final: Response | None = None
    acked: asyncio.Event = field(default_factory=asyncio.Event)
    retransmitter: asyncio.Task[None] | None = None


def sdp_answer(offer: bytes, *, address: str, port: int) -> bytes | None:
    """An SDP answer accepting the first offered G.711 codec, or None if none is offered."""
    try:
        lines = offer.decode("ascii").splitlines()
    except UnicodeDecodeError:
        return None
    media = next((line for line in lines if line.startswith("m=audio ")), None)
    if media is None:
        return None
    codec = next((pt for pt in media.split()[3:] if pt in SUPPORTED_CODECS), None)
    if codec is None:
        return None
    family = "IP6" if ":" in address else "IP4"
    session = int(time.time())
    return (
        "v=0\r\n"
        f"o=sipcore {session} {session} IN {family} {address}\r\n"
        "s=sipcore\r\n"
        f"c=IN {family} {address}\r\n"
        "t=0 0\r\n"
        f"m=audio {port} RTP/AVP {codec}\r\n"
        f"a=rtpmap:{codec} {SUPPORTED_CODECS[codec]}\r\n"
        "a=sendrecv\r\n"
    ).encode("ascii")


class DemoUas:
    """The request handler of the demo UAS; attach it with `endpoint.on_request = uas.handle`."""

    def __init__(
        self,
        endpoint: Endpoint,
        *,
        realm: str = "sipcore.test",
        users: Mapping[str, str] | None = None,
        algorithms: tuple[str, ...] = ("SHA-256", "MD5"),
        media_port: int = 15998,
        ring_seconds: float = 0.05,
    ) -> None:
        self.endpoint = endpoint
        self.realm = realm
        self.users = dict(users or {})
        self.media_port = media_port
        self.ring_seconds = ring_seconds
        self.digest = DigestServer(secret=os.urandom(32), algorithms=algorithms)
        self.calls: dict[tuple[str, str], Call] = {}
        self.bindings: dict[str, list[str]] = {}
        self.events: list[str] = []
        """What happened, in order ("INVITE", "ACK", "BYE", "REGISTER 200", ...), for tests."""

    async def handle(self, request: Request, handle: ServerTransactionHandle | None) -> None:
        method = request.method
        if handle is None:
            self._ack(request)
            return
        if method == "OPTIONS":
            handle.reply(200, headers=[("Allow", ALLOW), ("Accept", "application/sdp")])
        elif method == "REGISTER":
            await self._register(request, handle)
        elif method == "INVITE":
            await self._invite(request, handle)
        elif method == "BYE":
            self._bye(request, handle)
        elif method == "CANCEL":
            self._cancel(request, handle)
        else:
            handle.reply(405, headers=[("Allow", ALLOW)])

    # REGISTER -------------------------------------------------------------------------------

    async def _register(self, request: Request, handle: ServerTransactionHandle) -> None:
        outcome = await self.digest.verify(
            request.headers.get_all("Authorization"),
            method="REGISTER",
            uri=str(request.uri),
            realm=self.realm,
            lookup=password_lookup(self.users),
            now=time.time(),
        )
        if not isinstance(outcome, Accepted):
            challenges = self.digest.challenge(self.realm, now=time.time(), stale=outcome.stale)
            handle.reply(401, headers=[("WWW-Authenticate", value) for value in challenges])
            self.events.append("REGISTER 401")
            return
        expires = request.expires if request.expires is not None else 3600
        contacts = [str(address) for address in request.contacts]
        self.bindings[outcome.username] = [] if expires == 0 else contacts
        headers = [("Contact", f"{contact};expires={expires}") for contact in contacts]
        handle.reply(200, headers=[*headers, ("Expires", str(expires))])
        self.events.append("REGISTER 200")

    # INVITE, ACK, BYE, CANCEL ---------------------------------------------------------------

    async def _invite(self, request: Request, handle: ServerTransactionHandle) -> None:
        self.events.append("INVITE")
        if request.to_addr.tag:
            handle.reply(481)  # no re-INVITE support in the demo: it knows no such dialogue
            return
        to_tag = new_tag()
        call = Call(handle, to_tag)
        self.calls[(request.call_id, to_tag)] = call
        local = handle.channel.local
        contact = f"<sip:sipcore@{local.hostport};transport={local.transport}>"
        handle.reply(180, to_tag=to_tag, headers=[("Contact", contact)])
        await asyncio.sleep(self.ring_seconds)
        if call.final is not None:  # cancelled while ringing
            return
        answer = sdp_answer(request.body, address=local.host, port=self.media_port)
        if answer is None:
            call.final = handle.reply(488, to_tag=to_tag)
            return
        response = make_response(request, 200, to_tag=to_tag)
        response.headers.add("Contact", contact)
        response.headers.add("Allow", ALLOW)
        response.headers.add("Content-Type", "application/sdp")
        response.body = answer
        call.final = response
        handle.respond(response)
        call.retransmitter = asyncio.ensure_future(self._retransmit_2xx(call))

    async def _retransmit_2xx(self, call: Call) -> None:
        """§13.3.1.4: resend the 2xx at T1, 2·T1, ... (capped at T2) until the ACK, 64·T1 max."""
        timers = self.endpoint.config.timers
        interval, waited = timers.t1, 0.0
        while waited < 64 * timers.t1:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(interval):
                    await call.acked.wait()
            if call.acked.is_set():
                return
            waited += interval
            interval = min(2 * interval, timers.t2)
            assert call.final is not None
            try:
                call.handle.respond(call.final)
            except LocalProtocolError:  # Timer L ended the transaction: nothing carries it now
                break
        log.info("no ACK for the 2xx of %s", call.handle.request.call_id)

    def _ack(self, ack: Request) -> None:
        try:
            key = (ack.call_id, ack.to_addr.tag or "")
        except ParseError:
            return
        call = self.calls.get(key)
        if call is not None:
            call.acked.set()
            self.events.append("ACK")

    def _bye(self, request: Request, handle: ServerTransactionHandle) -> None:
        call = self.calls.pop((request.call_id, request.to_addr.tag or ""), None)
        if call is None:
            handle.reply(481)
            return
        call.acked.set()
        handle.reply(200)
        self.events.append("BYE")

    def _cancel(self, request: Request, handle: ServerTransactionHandle) -> None:
        invite = self.endpoint.invite_for_cancel(request)
        if invite is None:
            handle.reply(481)
            return
        handle.reply(200)
        for key, call in list(self.calls.items()):
            if call.handle is invite and call.final is None:
                call.final = invite.reply(487, to_tag=call.to_tag)
                del self.calls[key]
        self.events.append("CANCEL")

    async def close(self) -> None:
        """Stop pending 2xx retransmissions."""
        tasks = [call.retransmitter for call in self.calls.values() if call.retransmitter]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def _address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host.strip("[]"), int(port)


async def serve(args: argparse.Namespace) -> None:
    endpoint = Endpoint(EndpointConfig())
    users = dict(item.split(":", 1) for item in args.user)
    algorithms = tuple(args.algorithm) or ("SHA-256", "MD5")
    uas = DemoUas(endpoint, realm=args.realm, users=users, algorithms=algorithms)
    endpoint.on_request = uas.handle
    for kind in ("udp", "tcp"):
        for text in getattr(args, kind):
            bound = await endpoint.listen(kind, *_address(text))
            print(f"listening on {bound.transport} {bound.hostport}", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await uas.close()
        await endpoint.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--udp", action="append", default=[], help="HOST:PORT to listen on")
    parser.add_argument("--tcp", action="append", default=[], help="HOST:PORT to listen on")
    parser.add_argument("--realm", default="sipcore.test")
    parser.add_argument("--user", action="append", default=[], help="NAME:PASSWORD")
    parser.add_argument(
        "--algorithm", action="append", default=[], help="digest algorithm to offer (repeatable)"
    )
    args = parser.parse_args()
    if not args.udp and not args.tcp:
        args.udp = ["127.0.0.1:15060"]
    logging.basicConfig(level=logging.INFO)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args))


if __name__ == "__main__":
    main()
