"""Query methods for API tokens."""

from __future__ import annotations

from typing import Any

from django.db import models

from sipplatform.customers.managers import is_platform_staff


class ApiTokenQuerySet(models.QuerySet):
    def active(self) -> ApiTokenQuerySet:
        """Tokens that still authenticate: not revoked, owner still active."""
        return self.filter(revoked_at__isnull=True, user__is_active=True)

    def visible_to(self, user: Any) -> ApiTokenQuerySet:
        """A person sees their own tokens; platform staff see everyone's."""
        if is_platform_staff(user):
            return self.all()
        if not getattr(user, "is_authenticated", False):
            return self.none()
        return self.filter(user=user)
