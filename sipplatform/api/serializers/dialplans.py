"""Dialplans and destination policies."""

from __future__ import annotations

from rest_framework import serializers

from sipplatform.api.serializers.base import TenantOwnedSerializer, VisibleRelatedField
from sipplatform.customers.models import Customer
from sipplatform.dialplans.models import DestinationPolicy, Dialplan


class DialplanSerializer(TenantOwnedSerializer):
    # Declared without the model's source validator: full_clean runs it on save and its error
    # keeps the line and column, which a serializer field would flatten into text.
    script = serializers.CharField(
        trim_whitespace=False,
        help_text="Starlark source; a syntax error is refused with its line and column.",
    )

    class Meta:
        model = Dialplan
        fields = [
            "id",
            "customer",
            "name",
            "description",
            "script",
            "is_transfer_dialplan",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["is_transfer_dialplan", "created_at", "updated_at"]


class DestinationPolicySerializer(TenantOwnedSerializer):
    customer = VisibleRelatedField(
        Customer,
        required=False,
        allow_null=True,
        help_text="Owner; null (staff only) is the platform-wide policy. Defaults to the "
        "caller's own customer.",
    )
    denied_prefixes = serializers.ListField(
        child=serializers.CharField(max_length=15),
        required=False,
        max_length=1000,
        help_text="Number prefixes (digits, no + or 00) never dialled.",
    )
    allowed_country_codes = serializers.ListField(
        child=serializers.CharField(max_length=3),
        required=False,
        max_length=300,
        help_text="If set, international numbers must start with one of these.",
    )
    platform_wide_allowed = True

    class Meta:
        model = DestinationPolicy
        fields = ["id", "customer", "denied_prefixes", "allowed_country_codes", "updated_at"]
        read_only_fields = ["updated_at"]
