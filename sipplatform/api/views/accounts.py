"""SIP accounts: create returns the password once; reset-password issues a new one once."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from sipplatform.api.filters import SIPAccountFilter
from sipplatform.api.serializers.accounts import (
    PasswordResetSerializer,
    PasswordSetSerializer,
    SIPAccountCreatedSerializer,
    SIPAccountSerializer,
    set_account_password,
)
from sipplatform.api.serializers.base import save_validated
from sipplatform.api.views.base import TenantModelViewSet
from sipplatform.directory.models import SIPAccount


class SIPAccountViewSet(TenantModelViewSet):
    """SIP accounts (``username@domain``) of the caller's customer; all customers for staff."""

    model = SIPAccount
    queryset = SIPAccount.objects.none()
    select_related = ("customer", "domain")
    serializer_class = SIPAccountSerializer
    filterset_class = SIPAccountFilter

    @extend_schema(responses={201: SIPAccountCreatedSerializer})
    def create(self, request: Request, *args: object, **kwargs: object) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        account = serializer.save()
        body = SIPAccountCreatedSerializer(account, context=self.get_serializer_context()).data
        return Response(body, status=status.HTTP_201_CREATED)

    @extend_schema(request=PasswordResetSerializer, responses={200: PasswordSetSerializer})
    @action(detail=True, methods=["post"], url_path="reset-password")
    def reset_password(self, request: Request, pk: str | None = None) -> Response:
        """Set a new password (given, or generated) and return it this once."""
        account = self.get_object()
        serializer = PasswordResetSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        password = serializer.validated_data.get("password") or SIPAccount.generate_password()
        set_account_password(account, password)
        save_validated(account)
        return Response({"password": password})
