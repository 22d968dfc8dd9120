"""SIP accounts: the password is write-only, returned once by create and by reset-password."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import ProhibitNullCharactersValidator
from django.db.models import QuerySet
from rest_framework import serializers

from sipplatform.api.serializers.base import (
    TenantOwnedSerializer,
    VisibleRelatedField,
    request_user,
    save_validated,
)
from sipplatform.dialplans.models import Dialplan
from sipplatform.directory.models import SIPAccount, SIPDomain
from sipplatform.directory.services import create_sip_account


class VisibleDomainField(serializers.SlugRelatedField):
    """A SIP domain by name, among the platform-wide ones and the caller's own."""

    def get_queryset(self) -> QuerySet[SIPDomain]:
        return SIPDomain.objects.visible_to(request_user(self))

    def to_internal_value(self, data: object) -> SIPDomain:
        # Checked before the lookup: PostgreSQL cannot even compare text holding NUL.
        ProhibitNullCharactersValidator()(data)
        return super().to_internal_value(data)


class TransferPolicySerializer(serializers.Serializer):
    value = serializers.CharField(help_text="n, p or c")
    source = serializers.CharField(help_text="account, customer or platform")


class SIPAccountSerializer(TenantOwnedSerializer):
    domain = VisibleDomainField(
        slug_field="name",
        required=False,
        help_text="Domain name; defaults to the platform's SIP domain.",
    )
    password = serializers.CharField(
        write_only=True,
        required=False,
        trim_whitespace=False,
        help_text="8 to 128 characters. On create, omit it to have one generated; it is "
        "returned once. On update, omit it to keep the current one.",
    )
    incoming_dialplan = VisibleRelatedField(Dialplan, required=False, allow_null=True)
    outgoing_dialplan = VisibleRelatedField(Dialplan, required=False, allow_null=True)
    ip_allow_list = serializers.ListField(
        child=serializers.CharField(max_length=64),
        required=False,
        max_length=100,
        help_text="Networks in CIDR form; empty means any address.",
    )
    effective_transfer_policy = TransferPolicySerializer(read_only=True)

    class Meta:
        model = SIPAccount
        fields = [
            "id",
            "customer",
            "domain",
            "username",
            "aor",
            "password",
            "incoming_dialplan",
            "outgoing_dialplan",
            "incoming_only",
            "disabled",
            "ip_allow_list",
            "max_concurrent_calls",
            "transfer_default",
            "effective_transfer_policy",
            "refer_accept_with_200",
            "semi_attended_fallback_blind",
            "created_at",
            "password_changed_at",
        ]
        read_only_fields = ["aor", "created_at", "password_changed_at"]

    def create(self, validated_data: dict[str, Any]) -> SIPAccount:
        """Through ``create_sip_account``, like the command; keeps the clear password for the
        one response that shows it."""
        account, password = create_sip_account(
            validated_data.pop("customer"),
            validated_data.pop("username"),
            password=validated_data.pop("password", None),
            domain=validated_data.pop("domain", None),
            **validated_data,
        )
        account.clear_password = password
        return account

    def update(self, instance: SIPAccount, validated_data: dict[str, Any]) -> SIPAccount:
        password = validated_data.pop("password", None)
        for name, value in validated_data.items():
            setattr(instance, name, value)
        if password is not None:
            set_account_password(instance, password)  # after username and domain: the realm
        return save_validated(instance)


class SIPAccountCreatedSerializer(SIPAccountSerializer):
    """The create response: the account and, this once, its clear password."""

    password = serializers.CharField(
        source="clear_password", read_only=True, help_text="Shown only in this response."
    )


class PasswordResetSerializer(serializers.Serializer):
    password = serializers.CharField(
        required=False,
        trim_whitespace=False,
        help_text="The new password; omit it to have one generated.",
    )


class PasswordSetSerializer(serializers.Serializer):
    password = serializers.CharField(help_text="The account's new password, shown only once.")


def set_account_password(account: SIPAccount, password: str) -> None:
    """``SIPAccount.set_password`` with its complaint filed under the password field."""
    try:
        account.set_password(password)
    except ValidationError as exc:
        raise ValidationError({"password": exc.error_list}) from None
