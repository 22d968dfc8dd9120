"""The ``SecurityGate``: consulted first for every message a worker receives.

It answers from local state only, synchronously, so dropping is cheap even under a flood:
a banned source costs one dict lookup, an over-rate source a token-bucket update. The local
ban table is a mirror of the shared ``CounterStore`` that ``SecurityService`` keeps current
(it adds the bans it makes at once and reloads the store's list periodically, which is how
a ban made by another worker, or lifted by staff, arrives here).

Order of checks, cheapest first: banned source, then for requests only the request rate, a
known scanner's signature and credentials naming a locked account. Responses are never rate
limited: they answer our own requests, and dropping them would fail our own calls. Sources
in ``exempt_networks`` (loopback by default: a load balancer on the same machine; add
trusted providers) are never rate limited or banned; their scanner-looking requests are
still dropped.

Behind a front door (Kamailio, ``deploy/kamailio``) every request arrives from the front
door's address; it names the phone's in ``X-Sipplatform-Source: transport:ip:port``.
``client_address`` believes that header only from ``front_doors`` (and removes it from
anything else), so bans, rate limits and failure counts apply to the phone, never to the
front door, which is itself never banned or rate limited. ``client`` gives the whole address
(transport, IP, port) that the endpoint hands the application as ``handle.client``, so IP
allow lists and provider matching judge the phone too.
"""

from __future__ import annotations

import ipaddress
import logging
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import Enum

from sipcore.auth import AuthHeaderError, DigestCredentials, parse_credentials
from sipcore.events import LiveEvent
from sipcore.message import Request, Response
from sipcore.security.bans import Ban, Subject, SubjectKind
from sipcore.security.events import flood_event, scanner_event
from sipcore.security.ratelimit import TokenBucketLimiter
from sipcore.security.scanners import KNOWN_SCANNERS, ScannerDetector, ScannerSignature
from sipcore.transport import Peer
from sipcore.transport.base import TransportKind

log = logging.getLogger(__name__)

_CREDENTIAL_HEADERS = ("Authorization", "Proxy-Authorization")
_NETWORK_CACHE_SIZE = 4096
SOURCE_HEADER = "X-Sipplatform-Source"
"""Where a front door names the address a request came from to it: ``transport:ip:port``."""


@dataclass(frozen=True, slots=True, kw_only=True)
class GateConfig:
    request_rate: float = 50.0
    """Requests per second one source may sustain."""
    request_burst: float = 200.0
    """Requests one source may send at once."""
    max_sources: int = 100_000
    """Sources whose rate is tracked at once (least recently seen forgotten first)."""
    drop_scanners: bool = True
    notice_interval: float = 60.0
    """At most one ``security.flood`` / ``security.scanner`` event per source this often."""
    exempt_networks: tuple[str, ...] = ("127.0.0.0/8", "::1/128")
    """CIDR blocks never rate limited or banned: by default loopback, where a load balancer on
    the same machine (Kamailio in front of several workers) sends everything from; add the
    providers' trunks and any other proxy in front."""
    front_doors: tuple[str, ...] = ()
    """CIDR blocks of the front doors (Kamailio) whose ``X-Sipplatform-Source`` names the
    address to judge; they are never rate limited or banned themselves. Empty: the header is
    believed from nowhere."""
    signatures: tuple[ScannerSignature, ...] = KNOWN_SCANNERS

    def __post_init__(self) -> None:
        if self.request_rate <= 0 or self.notice_interval <= 0:
            raise ValueError("request_rate and notice_interval must be positive")
        if self.request_burst < 1 or self.max_sources < 1:
            raise ValueError("request_burst and max_sources must be at least 1")
        for network in (*self.exempt_networks, *self.front_doors):
            ipaddress.ip_network(network, strict=False)  # ValueError names the bad block


class Verdict(Enum):
    ALLOW = "allow"
    DROP = "drop"
    """Drop silently: no answer, nothing else to do."""
    DROP_AND_PUBLISH = "drop-and-publish"
    """Drop silently and publish ``Decision.event`` (the first drop of a flood or scan)."""


class DropReason(Enum):
    BANNED = "banned"
    RATE = "rate"
    SCANNER = "scanner"
    ACCOUNT_LOCKED = "account-locked"


@dataclass(frozen=True, slots=True)
class Decision:
    verdict: Verdict
    reason: DropReason | None = None
    event: LiveEvent | None = None
    scanner: str | None = None
    """The scanning tool recognised; the service bans the source for it."""


ALLOW = Decision(Verdict.ALLOW)
_DROP_BANNED = Decision(Verdict.DROP, DropReason.BANNED)
_DROP_RATE = Decision(Verdict.DROP, DropReason.RATE)
_DROP_LOCKED = Decision(Verdict.DROP, DropReason.ACCOUNT_LOCKED)


@dataclass(slots=True)
class GateStats:
    allowed: int = 0
    dropped: dict[DropReason, int] = field(default_factory=lambda: dict.fromkeys(DropReason, 0))


class SecurityGate:
    """Sans-I/O admission check; ``now`` is Unix time (the clock bans are written in)."""

    def __init__(self, config: GateConfig | None = None) -> None:
        self.config = config = config or GateConfig()
        self.stats = GateStats()
        self._limiter = TokenBucketLimiter(
            rate=config.request_rate, burst=config.request_burst, max_sources=config.max_sources
        )
        self._detector = ScannerDetector(config.signatures)
        self._front_doors = _Networks(config.front_doors)
        self._exempt = _Networks((*config.exempt_networks, *config.front_doors))
        self._sources: dict[str, float] = {}  # banned source -> until
        self._accounts: dict[str, float] = {}  # locked account (user@realm) -> until
        self._noticed: OrderedDict[tuple[DropReason, str], float] = OrderedDict()

    # the hot path ---------------------------------------------------------------------------

    def client_address(self, message: Request | Response, peer: str) -> str:
        """The address to judge ``message`` on, which came from the IP address ``peer``.

        For a request from a front door, the host its ``X-Sipplatform-Source`` names;
        otherwise ``peer``. The header is removed where it cannot be believed (not from a
        front door, repeated, unreadable, or in a response: the front door writes it into
        requests only and relays responses as they are), so later readers see it only where
        it is the front door's word.
        """
        named = self._named_source(message, peer)
        return peer if named is None else named.host

    def client(self, request: Request, peer: Peer) -> Peer:
        """``client_address`` with the transport and port: the whole address of whoever sent
        ``request`` (which came from ``peer``), as IP allow lists and provider matching need."""
        named = self._named_source(request, peer.host)
        return peer if named is None else named

    def _named_source(self, message: Request | Response, peer: str) -> Peer | None:
        headers = message.headers
        if SOURCE_HEADER not in headers:
            return None
        if isinstance(message, Request) and self._front_doors.contains(peer):
            values = headers.get_raw(SOURCE_HEADER)
            named = _source_peer(values[0]) if len(values) == 1 else None
            if named is not None:
                return named
            log.warning("front door %s sent an unreadable %s: %r", peer, SOURCE_HEADER, values)
        headers.remove(SOURCE_HEADER)
        return None

    def check(self, message: Request | Response, source: str, now: float) -> Decision:
        """Whether to process ``message`` from the IP address ``source``."""
        decision = self._check(message, source, now)
        if decision.reason is None:
            self.stats.allowed += 1
        else:
            self.stats.dropped[decision.reason] += 1
        return decision

    def _check(self, message: Request | Response, source: str, now: float) -> Decision:
        exempt = self._exempt.contains(source)
        if not exempt:
            until = self._sources.get(source)
            if until is not None:
                if now < until:
                    return _DROP_BANNED
                del self._sources[source]
        if not isinstance(message, Request):
            return ALLOW
        if not exempt and not self._limiter.allow(source, now):
            return self._over_rate(source, now)
        if self.config.drop_scanners:
            tool = self._detector.identify(message)
            if tool is not None:
                return self._scanner_seen(message, source, tool, now, exempt=exempt)
        if self._accounts and self._claims_locked_account(message, now):
            return _DROP_LOCKED
        return ALLOW

    def _over_rate(self, source: str, now: float) -> Decision:
        if not self._notice_due(DropReason.RATE, source, now):
            return _DROP_RATE
        config = self.config
        event = flood_event(source, rate=config.request_rate, burst=config.request_burst, now=now)
        return Decision(Verdict.DROP_AND_PUBLISH, DropReason.RATE, event)

    def _scanner_seen(
        self, request: Request, source: str, tool: str, now: float, *, exempt: bool
    ) -> Decision:
        if not self._notice_due(DropReason.SCANNER, source, now):
            return Decision(Verdict.DROP, DropReason.SCANNER)
        event = scanner_event(source, tool=tool, method=request.method, now=now)
        return Decision(
            Verdict.DROP_AND_PUBLISH, DropReason.SCANNER, event, None if exempt else tool
        )

    def _claims_locked_account(self, request: Request, now: float) -> bool:
        headers = request.headers
        for name in _CREDENTIAL_HEADERS:
            for value in headers.get_all(name):
                try:
                    credentials = parse_credentials(value)
                except AuthHeaderError:
                    continue
                if not isinstance(credentials, DigestCredentials):
                    continue
                key = f"{credentials.username}@{credentials.realm.lower()}"  # Subject.account
                until = self._accounts.get(key)
                if until is not None and now < until:
                    return True
        return False

    def _notice_due(self, reason: DropReason, source: str, now: float) -> bool:
        key = (reason, source)
        last = self._noticed.get(key)
        if last is not None and now - last < self.config.notice_interval:
            return False
        self._noticed[key] = now
        self._noticed.move_to_end(key)
        while len(self._noticed) > self.config.max_sources:
            self._noticed.popitem(last=False)
        return True

    # the ban mirror -------------------------------------------------------------------------

    def is_exempt(self, source: str) -> bool:
        """Whether ``source`` is in ``exempt_networks`` or ``front_doors`` (never banned)."""
        return self._exempt.contains(source)

    def is_front_door(self, source: str) -> bool:
        """Whether ``source`` is in ``front_doors`` (its ``X-Sipplatform-Source`` believed)."""
        return self._front_doors.contains(source)

    def ban_remaining(self, source: str, now: float) -> float:
        """Seconds until the ban of the address ``source`` ends; 0 when it is not banned."""
        return max(0.0, self._sources.get(source, now) - now)

    def add_ban(self, ban: Ban) -> None:
        """Enforce ``ban`` from now on (until it ends or the next ``replace_bans``)."""
        table = self._sources if ban.subject.kind is SubjectKind.SOURCE else self._accounts
        table[ban.subject.value] = max(ban.until, table.get(ban.subject.value, ban.until))
        if ban.subject.kind is SubjectKind.SOURCE:
            self._limiter.forget(ban.subject.value)

    def remove_ban(self, subject: Subject) -> None:
        table = self._sources if subject.kind is SubjectKind.SOURCE else self._accounts
        table.pop(subject.value, None)

    def replace_bans(self, bans: Iterable[Ban], now: float) -> None:
        """Make the mirror exactly ``bans`` (the shared store's current list)."""
        self._sources.clear()
        self._accounts.clear()
        for ban in bans:
            if ban.active(now):
                self.add_ban(ban)

    def is_banned(self, subject: Subject, now: float) -> bool:
        table = self._sources if subject.kind is SubjectKind.SOURCE else self._accounts
        until = table.get(subject.value)
        return until is not None and now < until

    @property
    def banned_count(self) -> int:
        return len(self._sources) + len(self._accounts)


class _Networks:
    """Membership of IP addresses in CIDR blocks, remembered per address (the hot path)."""

    def __init__(self, blocks: Iterable[str]) -> None:
        self._networks = tuple(ipaddress.ip_network(block, strict=False) for block in blocks)
        self._cache: dict[str, bool] = {}

    def contains(self, source: str) -> bool:
        if not self._networks:
            return False
        inside = self._cache.get(source)
        if inside is None:
            try:
                address = ipaddress.ip_address(source)
                inside = any(address in network for network in self._networks)
            except ValueError:
                inside = False
            if len(self._cache) >= _NETWORK_CACHE_SIZE:
                self._cache.clear()
            self._cache[source] = inside
        return inside


def _source_peer(value: str) -> Peer | None:
    """The address ``transport:ip:port`` names (an IPv6 address bare or in brackets), or None."""
    transport, _, rest = value.strip().partition(":")
    host, _, port = rest.rpartition(":")
    if not transport.isalpha() or not port.isdigit():
        return None
    host = host.removeprefix("[").removesuffix("]")
    # tls, ws, sctp between the phone and the front door count as tcp (connection-oriented):
    # the kind is only recorded, nothing is sent to this address (responses go to the door).
    kind: TransportKind = "udp" if transport.lower() == "udp" else "tcp"
    try:
        return Peer(kind, str(ipaddress.ip_address(host)), int(port))
    except ValueError:
        return None
