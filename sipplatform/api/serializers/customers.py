"""Customers (platform staff) and a customer's own settings (its users)."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from sipplatform.api.serializers.base import ModelCleanSerializer
from sipplatform.customers.models import Customer
from sipplatform.customers.services import create_customer


class CustomerSerializer(ModelCleanSerializer):
    effective_transfer_default = serializers.CharField(
        read_only=True, help_text="n, p or c: the transfer default in force for the customer."
    )

    class Meta:
        model = Customer
        fields = [
            "id",
            "name",
            "slug",
            "suspended",
            "max_concurrent_executions",
            "max_calls_per_minute",
            "transfer_default",
            "effective_transfer_default",
            "allow_cross_account_attended_transfer",
            "created_at",
        ]
        read_only_fields = ["slug", "created_at"]

    def create(self, validated_data: dict[str, Any]) -> Customer:
        return create_customer(validated_data.pop("name"), **validated_data)


class CustomerSettingsSerializer(CustomerSerializer):
    """What a customer's own users may change: transfer behaviour. Limits are the operator's."""

    class Meta(CustomerSerializer.Meta):
        read_only_fields = [
            "name",
            "slug",
            "suspended",
            "max_concurrent_executions",
            "max_calls_per_minute",
            "created_at",
        ]
