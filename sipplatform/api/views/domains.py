"""SIP domains: the platform-wide ones and the caller's own (read-only; staff manage them in the
admin)."""

from __future__ import annotations

from sipplatform.api.serializers.domains import SIPDomainSerializer
from sipplatform.api.views.base import TenantReadOnlyViewSet
from sipplatform.directory.models import SIPDomain


class SIPDomainViewSet(TenantReadOnlyViewSet):
    """Domains a SIP account may be created in, named by ``domain`` on the account."""

    model = SIPDomain
    queryset = SIPDomain.objects.none()
    serializer_class = SIPDomainSerializer
    filterset_fields = ["name"]
