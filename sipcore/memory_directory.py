"""A ``Directory`` kept in memory: for tests, tools and a worker run without a database.

It behaves like the database-backed directory in every way the SIP worker can see (domain
aliases, newest-first bindings, eviction of the oldest past the limit, expiry sweeps), so a
test that passes against it exercises the same application code paths. Records are added
with the ``add_*`` methods; the protocol methods are coroutines as the protocol demands.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from sipcore.directory import (
    AccountRecord,
    BindingRecord,
    CustomerRecord,
    DialplanRecord,
    ProviderRecord,
    ProviderRegistrationState,
    TransferPolicy,
)
from sipcore.message import URI, ParseError
from sipcore.policy import DestinationRules

_SIP_PORTS = {"sip": 5060, "sips": 5061}


def customer(customer_id: int = 1, **fields: Any) -> CustomerRecord:
    """A customer record with permissive defaults; ``fields`` override them."""
    values: dict[str, Any] = {
        "id": customer_id,
        "name": f"customer{customer_id}",
        "suspended": False,
        "max_concurrent_executions": 5,
        "max_calls_per_minute": 0,
        "allow_cross_account_attended_transfer": False,
    }
    values.update(fields)
    return CustomerRecord(**values)


def account(
    owner: CustomerRecord, username: str, domain: str, ha1: dict[str, str], **fields: Any
) -> AccountRecord:
    """An account record with permissive defaults; ``ha1`` maps algorithm to stored HA1."""
    values: dict[str, Any] = {
        "id": 0,
        "customer": owner,
        "username": username,
        "domain": domain,
        "ha1": ha1,
        "disabled": False,
        "incoming_only": False,
        "ip_allow_list": (),
        "max_concurrent_calls": 0,
        "incoming_dialplan": None,
        "outgoing_dialplan": None,
        "transfer_policy": TransferPolicy(value="n", source="platform"),
        "refer_accept_with_200": False,
        "semi_attended_fallback_blind": False,
    }
    values.update(fields)
    return AccountRecord(**values)


def _server_address(uri_text: str) -> tuple[str, int] | None:
    try:
        uri = URI.parse(uri_text if ":" in uri_text else f"sip:{uri_text}")
    except ParseError:
        return None
    if uri.host is None:
        return None
    return uri.host.lower(), uri.port or _SIP_PORTS.get(uri.scheme, 5060)


class MemoryDirectory:
    """Accounts, providers, dialplans and bindings in dictionaries."""

    def __init__(self, *, rules: DestinationRules | None = None) -> None:
        self.domains: dict[str, str] = {}
        """Every served name (lowercased) to its canonical domain."""
        self.accounts: dict[tuple[str, str], AccountRecord] = {}
        self.dialplans: dict[tuple[int, str], DialplanRecord] = {}
        self.providers: dict[tuple[int, str], ProviderRecord] = {}
        self.provider_states: dict[int, ProviderRegistrationState] = {}
        self.rules: dict[int, DestinationRules] = {}
        self.platform_rules = rules or DestinationRules()
        self._bindings: dict[int, list[BindingRecord]] = {}
        self._next_id = 1

    # setting up -----------------------------------------------------------------------------

    def add_domain(self, name: str, *aliases: str) -> None:
        for served in (name, *aliases):
            self.domains[served.lower()] = name.lower()

    def add_account(self, record: AccountRecord) -> AccountRecord:
        """Store ``record`` (given a fresh id when its id is 0) and return it."""
        if record.id == 0:
            record = replace(record, id=self._new_id())
        self.add_domain(record.domain)
        self.accounts[(record.username, record.domain.lower())] = record
        return record

    def add_dialplan(self, customer_id: int, name: str, source: str) -> DialplanRecord:
        record = DialplanRecord(customer_id=customer_id, name=name, source=source)
        self.dialplans[(customer_id, name)] = record
        return record

    def add_provider(self, record: ProviderRecord) -> ProviderRecord:
        self.providers[(record.customer_id, record.name)] = record
        return record

    def _new_id(self) -> int:
        self._next_id += 1
        return self._next_id

    # the Directory protocol -----------------------------------------------------------------

    async def served_domain(self, host: str) -> str | None:
        return self.domains.get(host.lower())

    async def find_account(self, username: str, domain: str) -> AccountRecord | None:
        canonical = self.domains.get(domain.lower())
        if canonical is None:
            return None
        return self.accounts.get((username, canonical))

    async def find_dialplan(self, customer_id: int, name: str) -> DialplanRecord | None:
        return self.dialplans.get((customer_id, name))

    async def find_provider(self, customer_id: int, name: str) -> ProviderRecord | None:
        return self.providers.get((customer_id, name))

    async def match_provider(self, host: str, port: int) -> ProviderRecord | None:
        wanted = (host.lower(), port)
        for provider in self.providers.values():
            for uri_text in (provider.server_uri, provider.outbound_proxy):
                if uri_text and _server_address(uri_text) == wanted:
                    return provider
        return None

    async def destination_rules(self, customer_id: int) -> DestinationRules:
        own = self.rules.get(customer_id, DestinationRules())
        return DestinationRules(
            denied_prefixes=self.platform_rules.denied_prefixes | own.denied_prefixes,
            allowed_country_codes=(
                self.platform_rules.allowed_country_codes | own.allowed_country_codes
            ),
        )

    async def bindings(self, account_id: int, now: float) -> list[BindingRecord]:
        return self._live(account_id, now)

    def _live(self, account_id: int, now: float) -> list[BindingRecord]:
        live = [b for b in self._bindings.get(account_id, []) if b.expires_at > now]
        return sorted(live, key=lambda binding: binding.expires_at, reverse=True)

    async def save_binding(
        self, binding: BindingRecord, *, max_bindings: int, now: float
    ) -> list[BindingRecord]:
        kept = [
            b
            for b in self._bindings.get(binding.account_id, [])
            if b.contact_uri != binding.contact_uri
        ]
        kept.insert(0, binding)
        self._bindings[binding.account_id] = kept[:max_bindings]
        return self._live(binding.account_id, now)

    async def remove_binding(
        self, account_id: int, contact_uri: str, *, now: float
    ) -> list[BindingRecord]:
        self._bindings[account_id] = [
            b for b in self._bindings.get(account_id, []) if b.contact_uri != contact_uri
        ]
        return self._live(account_id, now)

    async def remove_all_bindings(self, account_id: int, *, now: float) -> list[BindingRecord]:
        self._bindings.pop(account_id, None)
        return []

    async def expire_bindings(self, now: float) -> list[BindingRecord]:
        expired: list[BindingRecord] = []
        for account_id, bindings in self._bindings.items():
            expired += [b for b in bindings if b.expires_at <= now]
            self._bindings[account_id] = [b for b in bindings if b.expires_at > now]
        return expired

    async def providers_to_register(self) -> list[ProviderRecord]:
        return [provider for provider in self.providers.values() if provider.register]

    async def save_provider_registration(self, state: ProviderRegistrationState) -> None:
        self.provider_states[state.provider_id] = state
