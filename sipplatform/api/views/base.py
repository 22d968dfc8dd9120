"""The tenant scoping every API viewset shares."""

from __future__ import annotations

from django.db import models
from rest_framework import viewsets


class TenantScopedMixin:
    """Rows come from ``model.objects.visible_to(user)``: another customer's rows are simply
    not there, so reaching for one by id answers 404, never 403.

    ``queryset`` stays empty at class level: it only tells the schema generator the model.
    """

    model: type[models.Model]
    select_related: tuple[str, ...] = ()

    def get_queryset(self) -> models.QuerySet:
        queryset = self.model.objects.visible_to(self.request.user)
        return queryset.select_related(*self.select_related) if self.select_related else queryset


class TenantModelViewSet(TenantScopedMixin, viewsets.ModelViewSet):
    """Create, read, update, delete within the caller's reach."""


class TenantReadOnlyViewSet(TenantScopedMixin, viewsets.ReadOnlyModelViewSet):
    """Read within the caller's reach: records the platform writes itself."""
