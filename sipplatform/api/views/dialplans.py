"""Dialplans and destination policies."""

from __future__ import annotations

from sipplatform.api.filters import CustomerFilterSet
from sipplatform.api.permissions import CanChangeOwnRowsOnly, IsTenantUser
from sipplatform.api.serializers.dialplans import DestinationPolicySerializer, DialplanSerializer
from sipplatform.api.views.base import TenantModelViewSet
from sipplatform.dialplans.models import DestinationPolicy, Dialplan


class DialplanFilter(CustomerFilterSet):
    class Meta:
        model = Dialplan
        fields = ["customer", "name"]


class DestinationPolicyFilter(CustomerFilterSet):
    class Meta:
        model = DestinationPolicy
        fields = ["customer"]


class DialplanViewSet(TenantModelViewSet):
    """Starlark dialplans, parsed on every save exactly as the portal and the command do."""

    model = Dialplan
    queryset = Dialplan.objects.none()
    select_related = ("customer",)
    serializer_class = DialplanSerializer
    filterset_class = DialplanFilter


class DestinationPolicyViewSet(TenantModelViewSet):
    """Toll-fraud rules: the platform-wide policy (read-only unless staff) and the customer's."""

    model = DestinationPolicy
    queryset = DestinationPolicy.objects.none()
    serializer_class = DestinationPolicySerializer
    permission_classes = [IsTenantUser, CanChangeOwnRowsOnly]
    filterset_class = DestinationPolicyFilter
