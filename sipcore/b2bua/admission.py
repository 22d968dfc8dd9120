"""Who a new INVITE belongs to, and whether it may start at all.

Order of the questions: our own marked INVITE (``sipcore.b2bua.hairpin``) is a call to the
account it names. A request from a provider's address is a call in through that
provider, to the account its Request-URI names. A request whose From is in a served domain
claims to come from one of our accounts: it must prove it with digest (``407``), after
which unknown users and wrong passwords fail alike (``403``); a disabled account, an address
outside the allow list, an incoming-only account or a suspended customer is refused
(``403``). Such a caller's call runs its outgoing dialplan; without one, a call to another
of our accounts still rings it, anything else gets ``480``. Finally a call from anywhere to
a user of a served domain is a call in to that account; every other request is refused, so
the worker is no open relay.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from sipcore.account_auth import AuthReport, authenticate
from sipcore.auth import DigestServer, Rejected, RejectReason
from sipcore.b2bua.hairpin import HairpinMark
from sipcore.dialplan import Direction
from sipcore.directory import (
    AccountRecord,
    CustomerRecord,
    DialplanRecord,
    Directory,
    ProviderRecord,
)
from sipcore.message import Request
from sipcore.transport import Peer


@dataclass(frozen=True, slots=True, kw_only=True)
class Admitted:
    """A call allowed to start: whose it is and what decides where it goes."""

    direction: Direction
    customer: CustomerRecord
    owner: AccountRecord
    """The account the dialplan runs for: the caller (OUT) or the called account (IN)."""
    provider: ProviderRecord | None = None
    dialplan: DialplanRecord | None = None
    """None: ring the owner's registered contacts (IN only)."""
    caller: AccountRecord | None = None
    """The account that placed the call, once digest proved it (None: a provider's or a
    foreign caller): the transferor's account when it sends a REFER."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Refused:
    status: int
    reason: str = ""
    headers: tuple[tuple[str, str], ...] = ()


_CHALLENGE_AGAIN = frozenset({RejectReason.MISSING, RejectReason.NONCE_INVALID})


class Admission:
    def __init__(
        self,
        *,
        directory: Directory,
        digest: DigestServer,
        hairpin: HairpinMark,
        clock: Callable[[], float],
        auth_report: AuthReport | None = None,
    ) -> None:
        """``auth_report`` is told every credential check's verdict (the security service)."""
        self.directory = directory
        self.digest = digest
        self.hairpin = hairpin
        self.clock = clock
        self.auth_report = auth_report

    async def admit(self, request: Request, client: Peer) -> Admitted | Refused:
        """Decide about a new INVITE (its headers already parse) sent by ``client``: the
        caller's own address (``ServerTransactionHandle.client``; behind a front door the
        one it names), which provider matching and the IP allow lists judge."""
        if self.hairpin.is_marked(request):
            return await self._hairpin(request)
        provider = await self.directory.match_provider(client.host, client.port)
        if provider is not None:
            return await self._from_provider(request, provider)
        from_host = (request.from_addr.uri.host or "").lower()
        from_domain = await self.directory.served_domain(from_host) if from_host else None
        if from_domain is not None:
            return await self._from_account(request, client, from_domain)
        callee = await self._called_account(request)
        if isinstance(callee, Refused):
            return callee
        if callee is None:
            return Refused(status=403, reason="Not a served domain")
        return await self._incoming(callee)

    async def _from_provider(
        self, request: Request, provider: ProviderRecord
    ) -> Admitted | Refused:
        callee = await self._called_account(request)
        if isinstance(callee, Refused):
            return callee
        if callee is None:
            user = request.uri.user or ""
            for host in _hosts_of(provider.register_contact):
                callee = await self.directory.find_account(user, host)
                if callee is not None:
                    break
        if callee is None or callee.customer.id != provider.customer_id:
            return Refused(status=404)
        admitted = await self._incoming(callee)
        if isinstance(admitted, Admitted):
            return Admitted(
                direction=admitted.direction,
                customer=admitted.customer,
                owner=admitted.owner,
                provider=provider,
                dialplan=admitted.dialplan,
            )
        return admitted

    async def _from_account(self, request: Request, client: Peer, realm: str) -> Admitted | Refused:
        now = self.clock()
        outcome = await authenticate(
            request,
            digest=self.digest,
            directory=self.directory,
            realm=realm,
            credentials_header="Proxy-Authorization",
            now=now,
            client=client.host,
            report=self.auth_report,
        )
        if isinstance(outcome, Rejected):
            if outcome.stale or outcome.reason in (
                RejectReason.MISSING,
                RejectReason.NONCE_INVALID,
            ):
                challenges = self.digest.challenge(realm, now=now, stale=outcome.stale)
                headers = tuple(("Proxy-Authenticate", value) for value in challenges)
                return Refused(status=407, headers=headers)
            return Refused(status=403)
        caller = outcome
        if caller.username != request.from_addr.uri.user or not caller.allows_address(client.host):
            return Refused(status=403)
        if caller.disabled:
            return Refused(status=403, reason="Account disabled")
        if caller.customer.suspended:
            return Refused(status=403, reason="Customer suspended")
        if caller.incoming_only:
            return Refused(status=403, reason="Account may only receive calls")
        if caller.outgoing_dialplan:
            dialplan = await self.directory.find_dialplan(
                caller.customer.id, caller.outgoing_dialplan
            )
            if dialplan is not None:
                return Admitted(
                    direction=Direction.OUT,
                    customer=caller.customer,
                    owner=caller,
                    dialplan=dialplan,
                    caller=caller,
                )
        callee = await self._called_account(request)
        if isinstance(callee, AccountRecord):
            admitted = await self._incoming(callee)
            return replace(admitted, caller=caller) if isinstance(admitted, Admitted) else admitted
        return callee or Refused(status=480, reason="No outgoing dialplan")

    async def _hairpin(self, request: Request) -> Admitted | Refused:
        """Our own leg to an account with an incoming dialplan: a call to that account."""
        callee = await self._called_account(request)
        if isinstance(callee, AccountRecord):
            return await self._incoming(callee)
        return callee or Refused(status=404)

    async def _called_account(self, request: Request) -> AccountRecord | Refused | None:
        """The account a request to a served domain names (None: not a served domain)."""
        host = (request.uri.host or "").lower()
        if not host or await self.directory.served_domain(host) is None:
            return None
        account = await self.directory.find_account(request.uri.user or "", host)
        if account is None:
            return Refused(status=404)
        return account

    async def _incoming(self, callee: AccountRecord) -> Admitted | Refused:
        if callee.disabled:
            return Refused(status=403, reason="Account disabled")
        if callee.customer.suspended:
            return Refused(status=403, reason="Customer suspended")
        dialplan = None
        if callee.incoming_dialplan:
            dialplan = await self.directory.find_dialplan(
                callee.customer.id, callee.incoming_dialplan
            )
        return Admitted(
            direction=Direction.IN, customer=callee.customer, owner=callee, dialplan=dialplan
        )


def _hosts_of(contact: str) -> list[str]:
    """Hosts worth trying for a provider's register contact (``user@host`` or a URI)."""
    host = contact.rpartition("@")[2].split(";", 1)[0].split(">", 1)[0]
    return [host.rsplit(":", 1)[0]] if host else []
