"""Query methods for dialplans and destination policies."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sipcore.policy import DestinationRules
from sipplatform.customers.managers import TenantQuerySet

if TYPE_CHECKING:
    from sipplatform.customers.models import Customer
    from sipplatform.dialplans.models import DestinationPolicy, Dialplan


class DialplanQuerySet(TenantQuerySet):
    def named(self, customer: Customer | int, name: str) -> Dialplan | None:
        """The customer's dialplan called ``name`` (``transfer`` for blind transfers)."""
        return self.for_customer(customer).filter(name=name).first()


class DestinationPolicyQuerySet(TenantQuerySet):
    platform_wide_visible = True

    def platform(self) -> DestinationPolicy:
        """The platform-wide row (created empty if a migration did not seed it)."""
        policy, _ = self.get_or_create(customer=None)
        return policy

    def rules_for(self, customer: Customer | int | None) -> DestinationRules:
        """The rules a destination dialled by ``customer`` is judged by.

        Denied prefixes: the platform's and the customer's together (any match denies).
        Allowed country codes: the customer's list when it has one, else the platform's;
        empty means every country.
        """
        rows = list(self.filter(customer__isnull=True))
        if customer is not None:
            rows += list(self.for_customer(customer))
        denied: set[str] = set()
        allowed: frozenset[str] = frozenset()
        for row in sorted(rows, key=lambda policy: policy.customer_id is not None):
            denied.update(row.denied_prefixes)
            if row.allowed_country_codes:
                allowed = frozenset(row.allowed_country_codes)
        return DestinationRules(denied_prefixes=frozenset(denied), allowed_country_codes=allowed)
