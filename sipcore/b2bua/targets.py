"""From a dial-string leg to concrete destinations: where to send the INVITE, as whom.

``user@local`` and ``user@<served domain>`` become one target per registered contact of
that account (sent to the address the REGISTER came from, so NATed phones are reached), or,
when the account has an incoming dialplan, one hairpin leg back to this worker so that
dialplan runs (``sipcore.b2bua.hairpin``);
``user@provider`` and ``provider`` alone go to the provider's server (or outbound proxy)
with its From identity, custom headers and digest credentials; a full URI is sent to its
host. The From header is built here too: the caller's, the provider's identity, then
``sys.SetFromHeader`` and the leg's ``fu``/``fd``/``fh`` options, later ones winning.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from sipcore.auth import DigestClient
from sipcore.b2bua.forking import Target
from sipcore.dialstring import DialLeg, TargetKind
from sipcore.directory import AccountRecord, Directory, ProviderRecord
from sipcore.message import URI, Address, ParseError
from sipcore.message.params import quote_string
from sipcore.transport import Peer
from sipcore.transport.base import normalise_kind


class Unreachable(Exception):
    """A leg that cannot be dialled: ``status`` and ``reason`` say why."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"{status} {reason}")
        self.status = status
        self.reason = reason


@dataclass(frozen=True, slots=True, kw_only=True)
class FromIdentity:
    """Display name, user and host of a From header; None parts are not overridden."""

    name: str | None = None
    user: str | None = None
    host: str | None = None

    def over(self, base: FromIdentity) -> FromIdentity:
        return FromIdentity(
            name=self.name if self.name is not None else base.name,
            user=self.user if self.user is not None else base.user,
            host=self.host if self.host is not None else base.host,
        )

    def header(self) -> str:
        display = f"{quote_string(self.name)} " if self.name else ""
        return f"{display}<sip:{self.user or 'anonymous'}@{self.host or 'anonymous.invalid'}>"


def peer_for(uri: URI) -> Peer:
    """The transport address a SIP URI names (no DNS: hosts are used as written)."""
    if uri.host is None:
        raise Unreachable(416, "Unsupported URI Scheme")
    try:
        kind = normalise_kind(uri.transport or "udp")
    except ValueError as error:
        raise Unreachable(503, f"transport {uri.transport} is not supported") from error
    return Peer(kind, uri.host, uri.port or 5060)


def parse_server(text: str) -> URI:
    """A provider's server or proxy as configured: ``sip:host:port``, or just ``host:port``."""
    try:
        return URI.parse(text if text.lower().startswith(("sip:", "sips:")) else f"sip:{text}")
    except (ParseError, ValueError) as error:
        raise Unreachable(502, f"bad provider address {text!r}") from error


@dataclass(frozen=True, slots=True, kw_only=True)
class DialSettings:
    """What the running dialplan set for every leg it dials."""

    customer_id: int
    home_domain: str
    caller: FromIdentity
    from_override: FromIdentity = FromIdentity()
    headers: tuple[tuple[str, str], ...] = ()
    ringing_for: int | None = None
    """The account whose incoming dialplan is running: dialling it rings its phones."""


class TargetResolver:
    def __init__(
        self,
        directory: Directory,
        clock: Callable[[], float],
        own_address: Callable[[], Peer | None],
    ) -> None:
        """``own_address``: where this worker can send itself a request (hairpin legs)."""
        self.directory = directory
        self.clock = clock
        self.own_address = own_address

    async def resolve(self, leg: DialLeg, settings: DialSettings) -> list[Target]:
        """The destinations ``leg`` stands for; raises ``Unreachable``."""
        kind = leg.target_kind
        if kind is TargetKind.LOCAL:
            account = await self.directory.find_account(leg.user, settings.home_domain)
            if account is None or account.customer.id != settings.customer_id:
                raise Unreachable(404, f"no account {leg.user} here")
            return await self.account_targets(account, leg, settings)
        if kind is TargetKind.URI:
            assert leg.uri is not None
            try:
                uri = URI.parse(leg.uri)
            except ParseError as error:
                raise Unreachable(400, f"bad URI {leg.uri!r}") from error
            return [self._target(uri, peer_for(uri), leg, settings, settings.caller)]
        if kind is TargetKind.NAMED and await self.directory.served_domain(leg.host) is not None:
            account = await self.directory.find_account(leg.user, leg.host)
            if account is None:
                raise Unreachable(404, f"no account {leg.user}@{leg.host}")
            return await self.account_targets(account, leg, settings)
        provider = await self.directory.find_provider(settings.customer_id, leg.host)
        if provider is None:
            raise Unreachable(404, f"no provider or domain named {leg.host!r}")
        return [self._provider_target(provider, leg, settings)]

    async def account_targets(
        self,
        account: AccountRecord,
        leg: DialLeg | None,
        settings: DialSettings,
        *,
        follow_dialplan: bool = True,
    ) -> list[Target]:
        """One target per registered contact of ``account``; with ``follow_dialplan`` and an
        incoming dialplan, one hairpin target instead, so that dialplan decides."""
        if account.disabled:
            raise Unreachable(480, f"{account.aor} is disabled")
        own = self.own_address()
        follow = follow_dialplan and account.id != settings.ringing_for
        if follow and own is not None and await self._has_incoming_dialplan(account):
            uri = URI("sip", user=account.username, host=account.domain)
            target = self._target(uri, own, leg, settings, settings.caller)
            return [replace(target, account_id=account.id, hairpin=True)]
        bindings = await self.directory.bindings(account.id, self.clock())
        if not bindings:
            raise Unreachable(480, f"{account.aor} is not registered")
        targets = []
        for binding in bindings:
            try:
                uri = URI.parse(binding.contact_uri)
                kind = normalise_kind(binding.transport)
            except (ParseError, ValueError):
                continue
            peer = Peer(kind, binding.received_host, binding.received_port)
            target = self._target(uri, peer, leg, settings, settings.caller)
            targets.append(replace(target, account_id=account.id))
        if not targets:
            raise Unreachable(480, f"{account.aor} has no usable contact")
        return targets

    async def _has_incoming_dialplan(self, account: AccountRecord) -> bool:
        name = account.incoming_dialplan
        if not name:
            return False
        return await self.directory.find_dialplan(account.customer.id, name) is not None

    def _provider_target(
        self, provider: ProviderRecord, leg: DialLeg, settings: DialSettings
    ) -> Target:
        server = parse_server(provider.server_uri)
        proxy = parse_server(provider.outbound_proxy) if provider.outbound_proxy else server
        request_uri = URI(
            "sip", user=leg.user, host=server.host, port=server.port, params=server.params
        )
        identity = FromIdentity(
            name=settings.caller.name,
            user=provider.from_user or provider.username or settings.caller.user,
            host=provider.from_host or server.host,
        )
        target = self._target(request_uri, peer_for(proxy), leg, settings, identity)
        username = provider.digest_username
        password = provider.password

        def credentials() -> DigestClient:
            return DigestClient(username=username, password=password)

        return replace(
            target,
            description=f"{leg.user}@{provider.name}",
            headers=(*provider.custom_headers, *target.headers),
            auth=credentials if username else None,
            provider_id=provider.id,
        )

    @staticmethod
    def _target(
        uri: URI,
        peer: Peer,
        leg: DialLeg | None,
        settings: DialSettings,
        identity: FromIdentity,
    ) -> Target:
        options = leg.options if leg is not None else None
        leg_from = FromIdentity(
            name=options.from_name if options else None,
            user=options.from_user if options else None,
            host=options.from_host if options else None,
        )
        final = leg_from.over(settings.from_override.over(identity))
        return Target(
            request_uri=uri,
            peer=peer,
            from_address=final.header(),
            description=f"{leg.user}@{leg.host}" if leg else str(uri),
            delay=float(options.delay) if options else 0.0,
            answered_limit=options.answered_limit if options else None,
            transfer=options.transfer if options else None,
            headers=settings.headers,
        )


def caller_identity(from_address: Address) -> FromIdentity:
    uri = from_address.uri
    return FromIdentity(name=from_address.display_name, user=uri.user, host=uri.host)
