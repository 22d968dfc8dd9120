"""What the dashboard shows: per customer, its SIP accounts, providers and dialplans.

Every query goes through the tenant managers' ``visible_to(user)``, so a customer's user gets
its own customer only and platform staff get every customer, grouped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, Q
from django.utils import timezone

from sipplatform.customers.models import Customer
from sipplatform.dialplans.models import Dialplan
from sipplatform.directory.models import SIPAccount
from sipplatform.providers.models import Provider, ProviderRegistration


@dataclass(slots=True, kw_only=True)
class ProviderRow:
    provider: Provider
    state: str
    """``registered``, ``not registered``, ``failing`` or ``off`` (no registration asked)."""
    detail: str = ""


@dataclass(slots=True, kw_only=True)
class CustomerOverview:
    customer: Customer
    accounts: list[SIPAccount] = field(default_factory=list)
    providers: list[ProviderRow] = field(default_factory=list)
    dialplans: list[Dialplan] = field(default_factory=list)


def provider_row(provider: Provider) -> ProviderRow:
    if not provider.register:
        return ProviderRow(provider=provider, state="off")
    try:
        registration = provider.registration
    except ProviderRegistration.DoesNotExist:
        return ProviderRow(provider=provider, state="not registered", detail="not tried yet")
    if registration.registered:
        return ProviderRow(provider=provider, state="registered")
    if registration.failure_reason:
        return ProviderRow(provider=provider, state="failing", detail=registration.failure_reason)
    return ProviderRow(provider=provider, state="not registered")


def overview_for(user: Any) -> list[CustomerOverview]:
    """One entry per customer ``user`` may see, in name order."""
    overviews = {
        customer.pk: CustomerOverview(customer=customer)
        for customer in Customer.objects.visible_to(user)
    }
    accounts = (
        SIPAccount.objects.visible_to(user)
        .select_related("domain", "outgoing_dialplan", "incoming_dialplan")
        .annotate(
            registered_contacts=Count("bindings", filter=Q(bindings__expires_at__gt=timezone.now()))
        )
    )
    for account in accounts:
        overviews[account.customer_id].accounts.append(account)
    for provider in Provider.objects.visible_to(user).select_related("registration"):
        overviews[provider.customer_id].providers.append(provider_row(provider))
    for dialplan in Dialplan.objects.visible_to(user):
        overviews[dialplan.customer_id].dialplans.append(dialplan)
    return list(overviews.values())
