"""Customers for platform staff; the caller's own customer settings for its users."""

from __future__ import annotations

from rest_framework import generics
from rest_framework.exceptions import NotFound

from sipplatform.api.permissions import IsPlatformStaff
from sipplatform.api.serializers.customers import CustomerSerializer, CustomerSettingsSerializer
from sipplatform.api.views.base import TenantModelViewSet
from sipplatform.customers.managers import customer_id_of
from sipplatform.customers.models import Customer


class CustomerViewSet(TenantModelViewSet):
    """Tenants, with their limits and transfer default. Platform staff only."""

    model = Customer
    queryset = Customer.objects.none()
    serializer_class = CustomerSerializer
    permission_classes = [IsPlatformStaff]
    filterset_fields = ["suspended"]


class CustomerSettingsView(generics.RetrieveUpdateAPIView):
    """The caller's own customer: its transfer default and attended-transfer rule are theirs to
    change; the limits are shown but set by the operator. Staff (no customer) get 404 and use
    ``/customers/{id}/`` instead."""

    serializer_class = CustomerSettingsSerializer

    def get_object(self) -> Customer:
        customer_id = customer_id_of(self.request.user)
        if customer_id is None:
            raise NotFound("Platform staff have no customer of their own: use /api/v1/customers/.")
        return Customer.objects.get(pk=customer_id)
