"""The registrar (RFC 3261 §10): digest-authenticated REGISTER, bindings through the Directory.

Bindings live behind the ``Directory`` (the database in production), so every worker sees
every registration and they survive a restart. Enumeration is made useless: every REGISTER
without good credentials is challenged, and every failure after the challenge (unknown user,
wrong password, disabled account, address outside the allow list) gets the same ``403``;
only a credential check's verdict is reported as a failure (``AuthReport``). The allow list
judges the client's address (behind a front door, the phone's), while the binding records
the hop the REGISTER came from, through which the phone is reached.
No GRUU is ever offered: the 200 lists plain contacts, so phones keep using their own
Contact (linphone would otherwise put an unresolvable ``gr=`` URI in its INVITEs).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sipcore.account_auth import AuthReport, authenticate
from sipcore.auth import DigestServer, Rejected, RejectReason
from sipcore.directory import AccountRecord, BindingRecord, Directory
from sipcore.events import EventSink, LiveEvent
from sipcore.message import Address, ParseError, Request, Response, make_response

if TYPE_CHECKING:
    from sipcore.transport import Peer  # a type only: the registrar does no I/O

_CHALLENGE_AGAIN = frozenset({RejectReason.MISSING, RejectReason.NONCE_INVALID})
"""Rejections answered with a fresh 401 rather than 403: a first try, or a nonce from a
worker whose secret we no longer know."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RegistrarConfig:
    worker_id: str = ""
    default_domain: str = ""
    min_expires: int = 60
    max_expires: int = 3600
    default_expires: int = 600
    max_bindings: int = 10


class Registrar:
    """Answers REGISTER requests; ``handle`` returns the response to send."""

    def __init__(
        self,
        *,
        directory: Directory,
        events: EventSink,
        digest: DigestServer,
        config: RegistrarConfig,
        clock: Callable[[], float],
        auth_report: AuthReport | None = None,
    ) -> None:
        """``auth_report`` is told every credential check's verdict (the security service)."""
        self.directory = directory
        self.events = events
        self.digest = digest
        self.config = config
        self.clock = clock
        self.auth_report = auth_report

    async def handle(self, request: Request, source: Peer, client: Peer | None = None) -> Response:
        """Authenticate ``request`` and apply its Contact changes. ``source`` is the hop it
        came from, recorded in the binding to reach the phone through (a front door relays);
        ``client`` (default ``source``) the phone's own address, judged by the account's IP
        allow list and counted by ``auth_report``."""
        client = source if client is None else client
        now = self.clock()
        try:
            to_host = (request.to_addr.uri.host or "").lower()
            to_user = request.to_addr.uri.user or ""
            contacts = request.contacts
            star = request.contact_star
            default_expires = request.expires
            call_id, cseq = request.call_id, request.cseq.seq
            user_agent = request.headers.get("User-Agent", "") or ""
        except ParseError as error:
            return make_response(request, 400, _short(error.reason))
        realm = await self._realm(to_host)
        authenticated = await self._authenticate(request, realm, client.host, now)
        if isinstance(authenticated, Response):
            return authenticated
        account = authenticated
        refused = (
            account.disabled
            or account.customer.suspended
            or account.username != to_user
            or not account.allows_address(client.host)
        )
        if refused:
            return make_response(request, 403)
        if star:
            if default_expires != 0 or len(request.headers.get_all("Contact")) != 1:
                return make_response(request, 400, "Contact * needs Expires 0 and no other Contact")
            return _ok(request, await self._remove_all(account, now), now)
        wanted: list[tuple[Address, int]] = []
        for contact in contacts:
            try:
                expires = contact.expires
            except ParseError as error:
                return make_response(request, 400, _short(error.reason))
            if expires is None:
                expires = default_expires
            if expires is None:
                expires = self.config.default_expires
            if 0 < expires < self.config.min_expires:
                response = make_response(request, 423)
                response.headers.add("Min-Expires", str(self.config.min_expires))
                return response
            wanted.append((contact, min(expires, self.config.max_expires)))
        listed = await self.directory.bindings(account.id, now)
        current = {b.contact_uri: b for b in listed}
        for contact, _ in wanted:
            uri = str(contact.uri)
            known = current.get(uri)
            if known is not None and known.call_id == call_id and known.cseq >= cseq:
                return make_response(request, 500, "Out of order REGISTER")
        for contact, expires in wanted:
            uri = str(contact.uri)
            if expires == 0:
                if uri in current:
                    listed = await self.directory.remove_binding(account.id, uri, now=now)
                    self._publish("registration.removed", account, uri, now)
                continue
            binding = BindingRecord(
                account_id=account.id,
                contact_uri=uri,
                transport=source.transport,
                received_host=source.host,
                received_port=source.port,
                expires_at=now + expires,
                user_agent=user_agent[:255],
                instance_id=(contact.params.get("+sip.instance") or "").strip('"<>'),
                call_id=call_id,
                cseq=cseq,
                worker_id=self.config.worker_id,
            )
            listed = await self.directory.save_binding(
                binding, max_bindings=self.config.max_bindings, now=now
            )
            self._publish("registration.added", account, uri, now, expires=expires)
        return _ok(request, listed, now)

    async def expire(self) -> list[BindingRecord]:
        """Delete bindings past their expiry and tell the monitor; returns them."""
        now = self.clock()
        expired = await self.directory.expire_bindings(now)
        for binding in expired:
            self.events.publish(
                LiveEvent(
                    kind="registration.expired",
                    customer_id=None,
                    data={"account_id": binding.account_id, "contact": binding.contact_uri},
                    at=now,
                )
            )
        return expired

    async def _realm(self, to_host: str) -> str:
        """The domain a REGISTER is for: the served domain its To host names (by name or
        alias), else the default domain (phones set up with the worker's address as their
        domain)."""
        domain = await self.directory.served_domain(to_host)
        if domain is None and self.config.default_domain:
            return self.config.default_domain
        return domain or to_host

    async def _authenticate(
        self, request: Request, realm: str, client: str, now: float
    ) -> AccountRecord | Response:
        outcome = await authenticate(
            request,
            digest=self.digest,
            directory=self.directory,
            realm=realm,
            credentials_header="Authorization",
            now=now,
            client=client,
            report=self.auth_report,
        )
        if not isinstance(outcome, Rejected):
            return outcome
        if outcome.stale or outcome.reason in _CHALLENGE_AGAIN:
            response = make_response(request, 401)
            for value in self.digest.challenge(realm, now=now, stale=outcome.stale):
                response.headers.add("WWW-Authenticate", value)
            return response
        return make_response(request, 403)

    async def _remove_all(self, account: AccountRecord, now: float) -> list[BindingRecord]:
        for binding in await self.directory.bindings(account.id, now):
            self._publish("registration.removed", account, binding.contact_uri, now)
        return await self.directory.remove_all_bindings(account.id, now=now)

    def _publish(
        self, kind: str, account: AccountRecord, contact: str, now: float, **extra: object
    ) -> None:
        data = {"account": account.aor, "account_id": account.id, "contact": contact, **extra}
        self.events.publish(
            LiveEvent(kind=kind, customer_id=account.customer.id, data=data, at=now)
        )


def _ok(request: Request, bindings: list[BindingRecord], now: float) -> Response:
    """200 listing every current binding with the seconds it has left (§10.3 step 8): those
    the last write left, else those read before (the REGISTER changed nothing)."""
    response = make_response(request, 200)
    for binding in bindings:
        remaining = max(0, int(binding.expires_at - now + 0.5))
        response.headers.add("Contact", f"<{binding.contact_uri}>;expires={remaining}")
    return response


def _short(text: str) -> str:
    return " ".join(text.split())[:100]
