"""OpenAPI generation: the Bearer token scheme and the error responses every operation has."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from rest_framework.mixins import RetrieveModelMixin
from rest_framework.viewsets import ViewSetMixin

from sipplatform.api.serializers.errors import ErrorSerializer


class ApiAutoSchema(AutoSchema):
    """Documents the shared ``Error`` body for the failures an operation can meet, so clients
    (and the schemathesis run) can rely on its shape."""

    def get_operation(self, *args: Any, **kwargs: Any) -> dict[str, Any] | None:
        operation = super().get_operation(*args, **kwargs)
        if operation is None:
            return None
        responses = operation["responses"]
        for code in self._error_codes():
            responses.setdefault(code, self._get_response_for_code(ErrorSerializer, code))
        return operation

    def _error_codes(self) -> list[str]:
        codes = ["400", "401", "403", "429"]
        if self._addresses_one_object():
            codes.append("404")
        if self.method == "DELETE":
            codes.append("409")
        return codes

    def _addresses_one_object(self) -> bool:
        """A path with an id, or a single-object view such as the caller's own settings."""
        if "{" in self.path:
            return True
        return isinstance(self.view, RetrieveModelMixin) and not isinstance(self.view, ViewSetMixin)


class BearerTokenScheme(OpenApiAuthenticationExtension):
    target_class = "sipplatform.api.authentication.BearerTokenAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema: AutoSchema) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An API token (sipk_…) created in the portal or with "
            "`manage.py apitoken create`.",
        }
