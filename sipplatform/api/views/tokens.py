"""The caller's API tokens: listed and revoked over the API, created in the portal or by
``manage.py apitoken`` (so a leaked token cannot mint others that outlive its revocation)."""

from __future__ import annotations

from rest_framework import mixins, viewsets

from sipplatform.api.models import ApiToken
from sipplatform.api.serializers.tokens import ApiTokenSerializer
from sipplatform.api.services import revoke_token
from sipplatform.api.views.base import TenantScopedMixin


class ApiTokenViewSet(
    TenantScopedMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Your own tokens (platform staff: everyone's). DELETE revokes: the token stops working at
    once and stays listed with its revocation time."""

    model = ApiToken
    queryset = ApiToken.objects.none()
    select_related = ("user",)
    serializer_class = ApiTokenSerializer
    filterset_fields = ["name"]

    def perform_destroy(self, instance: ApiToken) -> None:
        revoke_token(instance)
