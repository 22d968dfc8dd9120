"""What the SIP application reads and writes about accounts, providers and dialplans.

The application layer sees the platform's data only through the ``Directory`` protocol
and these frozen records, so it imports no Django. The Django-backed implementation lives
in ``sipplatform.sipworker.directory``; ``sipcore.memory_directory`` keeps it in memory
for tests and tools.
Every method is a coroutine: an implementation over a database must not block the loop.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from sipcore.policy import DestinationRules

TRANSFER_VALUES = frozenset({"n", "p", "c"})
PLATFORM_TRANSFER_DEFAULT = "n"


@dataclass(frozen=True, slots=True, kw_only=True)
class TransferPolicy:
    """A ``tr`` value and where it came from: ``leg``, ``account``, ``customer`` or ``platform``."""

    value: str
    source: str


@dataclass(frozen=True, slots=True, kw_only=True)
class CustomerRecord:
    id: int
    name: str
    suspended: bool
    max_concurrent_executions: int
    max_calls_per_minute: int
    allow_cross_account_attended_transfer: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class AccountRecord:
    id: int
    customer: CustomerRecord
    username: str
    domain: str
    ha1: Mapping[str, str]
    """Stored digest HA1 by algorithm name (``MD5``, ``SHA-256``)."""
    disabled: bool
    incoming_only: bool
    ip_allow_list: tuple[str, ...]
    max_concurrent_calls: int
    incoming_dialplan: str | None
    outgoing_dialplan: str | None
    transfer_policy: TransferPolicy
    """The account's policy when no dial-string ``tr`` applies (account, customer, platform)."""
    refer_accept_with_200: bool
    semi_attended_fallback_blind: bool

    @property
    def aor(self) -> str:
        return f"{self.username}@{self.domain}"

    def allows_address(self, address: str) -> bool:
        """Whether a request from ``address`` passes the IP allow list (empty: any address)."""
        if not self.ip_allow_list:
            return True
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in ipaddress.ip_network(network) for network in self.ip_allow_list)


@dataclass(frozen=True, slots=True, kw_only=True)
class BindingRecord:
    """A registered contact (RFC 3261 §10) and where its REGISTER came from."""

    account_id: int
    contact_uri: str
    transport: str
    received_host: str
    received_port: int
    expires_at: float
    """Unix time."""
    user_agent: str = ""
    instance_id: str = ""
    call_id: str = ""
    cseq: int = 0
    worker_id: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class ProviderRecord:
    id: int
    customer_id: int
    name: str
    server_uri: str
    outbound_proxy: str
    username: str
    auth_username: str
    password: str
    from_user: str
    from_host: str
    custom_headers: tuple[tuple[str, str], ...]
    register: bool
    register_contact: str
    register_expiry: int

    @property
    def digest_username(self) -> str:
        """The name our digest credentials carry: the auth username when the provider gave one."""
        return self.auth_username or self.username


@dataclass(frozen=True, slots=True, kw_only=True)
class DialplanRecord:
    customer_id: int
    name: str
    source: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ProviderRegistrationState:
    provider_id: int
    registered: bool
    last_status: int | None
    failure_reason: str = ""
    expires_at: float | None = None
    next_attempt_at: float | None = None
    worker_id: str = ""


class Directory(Protocol):
    """The platform's data as the SIP worker needs it. Reads see changes without a restart."""

    async def served_domain(self, host: str) -> str | None:
        """The name of the served domain ``host`` is (itself or one of its aliases), else None.

        The name, not the alias, is the digest realm an account's HA1s were made with.
        """

    async def find_account(self, username: str, domain: str) -> AccountRecord | None:
        """The account ``username@domain``; ``domain`` may be an alias of a served domain."""

    async def find_dialplan(self, customer_id: int, name: str) -> DialplanRecord | None: ...

    async def find_provider(self, customer_id: int, name: str) -> ProviderRecord | None: ...

    async def match_provider(self, host: str, port: int) -> ProviderRecord | None:
        """The provider whose server or outbound proxy a request came from (calls in)."""

    async def destination_rules(self, customer_id: int) -> DestinationRules:
        """Platform-wide and the customer's destination policy, merged."""

    async def bindings(self, account_id: int, now: float) -> list[BindingRecord]:
        """Unexpired bindings, newest first."""

    async def save_binding(
        self, binding: BindingRecord, *, max_bindings: int, now: float
    ) -> list[BindingRecord]:
        """Add or refresh a binding (keyed on account and contact URI); evict the oldest
        past ``max_bindings``. Returns the account's bindings after the write, as
        ``bindings(account_id, now)`` would."""

    async def remove_binding(
        self, account_id: int, contact_uri: str, *, now: float
    ) -> list[BindingRecord]:
        """Remove one binding; returns the account's bindings after the write."""

    async def remove_all_bindings(self, account_id: int, *, now: float) -> list[BindingRecord]:
        """Remove every binding of the account; returns its bindings after the write."""

    async def expire_bindings(self, now: float) -> list[BindingRecord]:
        """Delete bindings that expired before ``now`` and return them."""

    async def providers_to_register(self) -> list[ProviderRecord]: ...

    async def save_provider_registration(self, state: ProviderRegistrationState) -> None: ...
