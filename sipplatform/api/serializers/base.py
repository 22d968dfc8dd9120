"""Shared serializer behaviour: validate through the model, scope references to the caller.

DRF's ``ModelSerializer`` does not run ``Model.full_clean()``; the portal's forms and the
services do. ``ModelCleanSerializer`` saves through ``full_clean()`` inside a transaction, so the
API refuses exactly what the rest of the platform refuses, and a refused write saves nothing.
Uniqueness and check constraints are left to ``full_clean`` too, rather than re-declared here.
"""

from __future__ import annotations

from typing import Any

from django.db import models, transaction
from rest_framework import serializers

from sipplatform.customers.managers import customer_id_of, is_platform_staff
from sipplatform.customers.models import Customer


def request_user(serializer: serializers.Field) -> Any:
    return serializer.context["request"].user


def save_validated(instance: models.Model) -> models.Model:
    """``full_clean()`` then ``save()`` in one transaction: all of it is saved, or nothing."""
    with transaction.atomic():
        instance.full_clean()
        instance.save()
    return instance


class VisibleRelatedField(serializers.PrimaryKeyRelatedField):
    """A reference to a row the caller can see (``Model.objects.visible_to(user)``).

    An id of another customer's row is answered like an id that does not exist.
    """

    def __init__(self, model: type[models.Model], **kwargs: Any) -> None:
        self.model = model
        super().__init__(**kwargs)

    def get_queryset(self) -> models.QuerySet:
        return self.model.objects.visible_to(request_user(self))


class ModelCleanSerializer(serializers.ModelSerializer):
    def get_validators(self) -> list:
        return []  # unique and check constraints: Model.full_clean() checks them on save

    def create(self, validated_data: dict[str, Any]) -> models.Model:
        return save_validated(self.Meta.model(**validated_data))

    def update(self, instance: models.Model, validated_data: dict[str, Any]) -> models.Model:
        for name, value in validated_data.items():
            setattr(instance, name, value)
        return save_validated(instance)


class TenantOwnedSerializer(ModelCleanSerializer):
    """A row owned by a customer: a customer's user creates rows for its own customer; platform
    staff name the customer. The owner never changes after creation."""

    customer = VisibleRelatedField(
        Customer, required=False, help_text="Owner; defaults to the caller's own customer."
    )
    platform_wide_allowed = False

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs = super().validate(attrs)
        user = request_user(self)
        if self.instance is not None:
            if "customer" in attrs and attrs["customer"] != self.instance.customer:
                raise serializers.ValidationError(
                    {"customer": "The owner cannot change; create the object anew instead."}
                )
            return attrs
        if attrs.get("customer") is None:
            own = customer_id_of(user)
            if own is not None:
                attrs["customer"] = Customer.objects.get(pk=own)
            elif not (self.platform_wide_allowed and is_platform_staff(user)):
                raise serializers.ValidationError(
                    {"customer": "Platform staff must say which customer this is for."}
                )
        return attrs
