"""Providers (SIP trunks) with their registration state."""

from __future__ import annotations

from sipplatform.api.filters import CustomerFilterSet
from sipplatform.api.serializers.providers import ProviderSerializer
from sipplatform.api.views.base import TenantModelViewSet
from sipplatform.providers.models import Provider


class ProviderFilter(CustomerFilterSet):
    class Meta:
        model = Provider
        fields = ["customer", "name", "register"]


class ProviderViewSet(TenantModelViewSet):
    """A customer's providers; the password is write-only, the registration state read-only."""

    model = Provider
    queryset = Provider.objects.none()
    select_related = ("customer", "registration")
    serializer_class = ProviderSerializer
    filterset_class = ProviderFilter
