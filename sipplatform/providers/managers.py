"""Query methods for providers and their registration state."""

from __future__ import annotations

from sipplatform.customers.managers import TenantQuerySet


class ProviderQuerySet(TenantQuerySet):
    def registering(self) -> ProviderQuerySet:
        """Providers the outbound registration agent keeps registered."""
        return self.filter(register=True, customer__suspended=False)


class ProviderRegistrationQuerySet(TenantQuerySet):
    customer_lookup = "provider__customer"
