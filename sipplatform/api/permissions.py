"""Who may use the API: platform staff everywhere, a customer's users within that customer."""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request

from sipplatform.customers.managers import customer_id_of, is_platform_staff


class IsTenantUser(BasePermission):
    """Signed in as platform staff or as a user of a customer; row scoping is ``visible_to``."""

    message = "Sign in as platform staff or as a customer's user."

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        return is_platform_staff(user) or customer_id_of(user) is not None


class IsPlatformStaff(BasePermission):
    message = "Only platform staff may do this."

    def has_permission(self, request: Request, view: Any) -> bool:
        return is_platform_staff(request.user)


class CanChangeOwnRowsOnly(BasePermission):
    """Rows shared by the whole platform (no customer) are readable by all, changed by staff."""

    message = "Platform-wide settings are changed by platform staff only."

    def has_object_permission(self, request: Request, view: Any, obj: Any) -> bool:
        if request.method in SAFE_METHODS or is_platform_staff(request.user):
            return True
        return obj.customer_id is not None and obj.customer_id == customer_id_of(request.user)
