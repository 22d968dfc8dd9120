"""Providers: the password is write-only; the registration state is read-only and nested."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from sipplatform.api.serializers.base import TenantOwnedSerializer
from sipplatform.providers.models import Provider, ProviderRegistration
from sipplatform.providers.services import create_provider


class ProviderRegistrationSerializer(serializers.ModelSerializer):
    class Meta:
        model = ProviderRegistration
        fields = [
            "registered",
            "last_attempt_at",
            "next_attempt_at",
            "expires_at",
            "last_status",
            "failure_reason",
        ]
        read_only_fields = fields


class ProviderSerializer(TenantOwnedSerializer):
    password = serializers.CharField(
        write_only=True,
        required=False,
        allow_blank=True,
        trim_whitespace=False,
        max_length=256,
        help_text="Stored encrypted and never returned. Omit it to keep the stored one; an "
        "empty string removes it.",
    )
    has_password = serializers.BooleanField(read_only=True)
    registration = ProviderRegistrationSerializer(read_only=True, allow_null=True)

    class Meta:
        model = Provider
        fields = [
            "id",
            "customer",
            "name",
            "server_uri",
            "outbound_proxy",
            "username",
            "auth_username",
            "password",
            "has_password",
            "from_user",
            "from_host",
            "custom_headers",
            "register",
            "register_contact",
            "register_expiry",
            "registration",
            "created_at",
        ]
        read_only_fields = ["created_at"]

    def create(self, validated_data: dict[str, Any]) -> Provider:
        """Through ``create_provider``, which also creates the registration state row."""
        return create_provider(
            validated_data.pop("customer"),
            validated_data.pop("name"),
            validated_data.pop("server_uri"),
            password=validated_data.pop("password", ""),
            **validated_data,
        )

    def update(self, instance: Provider, validated_data: dict[str, Any]) -> Provider:
        password = validated_data.pop("password", None)
        if password is not None:
            instance.set_password(password)
        return super().update(instance, validated_data)
