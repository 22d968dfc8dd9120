"""Query methods for the SIP directory; the SIP worker's Django-backed directory uses these."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db.models import Q
from django.utils import timezone

from sipplatform.customers.managers import TenantQuerySet

if TYPE_CHECKING:
    from sipplatform.customers.models import Customer
    from sipplatform.directory.models import SIPAccount, SIPDomain


class SIPDomainQuerySet(TenantQuerySet):
    platform_wide_visible = True

    def usable_by(self, customer: Customer | int) -> SIPDomainQuerySet:
        """Domains ``customer``'s accounts may live in: platform-wide ones and its own."""
        return self.filter(Q(customer__isnull=True) | Q(customer=customer))

    def resolve(self, host: str) -> SIPDomain | None:
        """The domain whose name or one of whose aliases is ``host`` (case-insensitive)."""
        host = host.strip().lower()
        exact = self.filter(name=host).first()
        if exact is not None:
            return exact
        for domain in self.exclude(aliases=[]):
            if host in domain.aliases:
                return domain
        return None


class SIPAccountQuerySet(TenantQuerySet):
    def active(self) -> SIPAccountQuerySet:
        """Accounts that may register and call: not disabled, customer not suspended."""
        return self.filter(disabled=False, customer__suspended=False)

    def lookup(self, username: str, host: str) -> SIPAccount | None:
        """The account ``username@host``, the host matched against domain names and aliases."""
        from sipplatform.directory.models import SIPDomain

        domain = SIPDomain.objects.resolve(host)
        if domain is None:
            return None
        return (
            self.select_related("customer", "domain", "incoming_dialplan", "outgoing_dialplan")
            .filter(domain=domain, username=username)
            .first()
        )


class BindingQuerySet(TenantQuerySet):
    customer_lookup = "account__customer"

    def current(self) -> BindingQuerySet:
        """Bindings that have not expired."""
        return self.filter(expires_at__gt=timezone.now())

    def expired(self) -> BindingQuerySet:
        return self.filter(expires_at__lte=timezone.now())
