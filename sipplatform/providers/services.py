"""Provisioning providers and recording the outbound registration agent's progress."""

from __future__ import annotations

from django.db import transaction

from sipplatform.customers.models import Customer
from sipplatform.providers.models import Provider, ProviderRegistration


@transaction.atomic
def create_provider(
    customer: Customer,
    name: str,
    server_uri: str,
    *,
    password: str = "",
    **fields: object,
) -> Provider:
    """A new provider and its registration state row; raises ``ValidationError``, saves nothing."""
    provider = Provider(customer=customer, name=name, server_uri=server_uri, **fields)
    provider.set_password(password)
    provider.full_clean()
    provider.save()
    ProviderRegistration.objects.create(provider=provider)
    return provider


def update_registration(provider_id: int, **state: object) -> None:
    """Store the registration agent's view of a provider (``registered``, ``expires_at``, ...)."""
    ProviderRegistration.objects.update_or_create(provider_id=provider_id, defaults=state)
