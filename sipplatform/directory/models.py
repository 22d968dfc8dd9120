"""SIP domains, SIP accounts (digest credentials as HA1 hashes only) and registrar bindings."""

from __future__ import annotations

import secrets
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

from sipcore.auth import ha1
from sipcore.directory import PLATFORM_TRANSFER_DEFAULT, TransferPolicy
from sipplatform.customers.models import (
    Customer,
    TransferDefault,
    transfer_default_constraint,
)
from sipplatform.directory.managers import (
    BindingQuerySet,
    SIPAccountQuerySet,
    SIPDomainQuerySet,
)
from sipplatform.directory.validators import (
    validate_cidr_list,
    validate_domain_list,
    validate_domain_name,
    validate_sip_password,
    validate_sip_username,
)


class TransferPolicySource(models.TextChoices):
    """Where the transfer policy in force on a call came from (first found wins)."""

    LEG = "leg", "tr option of the answering leg"
    ACCOUNT = "account", "SIP account default"
    CUSTOMER = "customer", "customer default"
    PLATFORM = "platform", "platform default"


class SIPDomain(models.Model):
    """A SIP domain (the digest realm); without a customer it is shared by the whole platform."""

    name = models.CharField(max_length=253, unique=True, validators=[validate_domain_name])
    aliases = models.JSONField(
        default=list,
        blank=True,
        validators=[validate_domain_list],
        help_text="Other host names or addresses phones may use for this domain.",
    )
    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, null=True, blank=True, related_name="sip_domains"
    )

    objects = SIPDomainQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        verbose_name = "SIP domain"

    def __str__(self) -> str:
        return self.name

    @classmethod
    def from_db(cls, db, field_names, values):
        instance = super().from_db(db, field_names, values)
        instance._loaded_name = instance.__dict__.get("name")
        return instance

    def clean(self) -> None:
        self.name = self.name.strip().lower()
        self.aliases = sorted({alias.strip().lower() for alias in self.aliases or []})
        if self.name in self.aliases:
            raise ValidationError({"aliases": "An alias repeats the domain's name."})
        renamed = getattr(self, "_loaded_name", self.name) != self.name
        if renamed and self.accounts.exists():
            raise ValidationError(
                {"name": "The name is its accounts' digest realm; it cannot change."}
            )


class SIPAccount(models.Model):
    """A phone's SIP identity ``username@domain``; stores only the digest HA1s of its password."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="sip_accounts")
    domain = models.ForeignKey(SIPDomain, on_delete=models.PROTECT, related_name="accounts")
    username = models.CharField(max_length=32, validators=[validate_sip_username])
    ha1_md5 = models.CharField("HA1 (MD5)", max_length=32, editable=False)
    ha1_sha256 = models.CharField("HA1 (SHA-256)", max_length=64, editable=False)
    incoming_dialplan = models.ForeignKey(
        "dialplans.Dialplan",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="incoming_accounts",
        help_text="Runs for calls to this account; without one its registered phones ring.",
    )
    outgoing_dialplan = models.ForeignKey(
        "dialplans.Dialplan",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="outgoing_accounts",
        help_text="Runs for calls from this account; without one they get 480.",
    )
    incoming_only = models.BooleanField(default=False, help_text="May receive but not place calls.")
    disabled = models.BooleanField(default=False)
    ip_allow_list = models.JSONField(
        "IP allow list",
        default=list,
        blank=True,
        validators=[validate_cidr_list],
        help_text="Networks in CIDR form this account may register and call from; empty = any.",
    )
    max_concurrent_calls = models.PositiveIntegerField(
        default=4, validators=[MinValueValidator(1), MaxValueValidator(1000)]
    )
    transfer_default = models.CharField(
        max_length=8, choices=TransferDefault.choices, default=TransferDefault.INHERIT
    )
    refer_accept_with_200 = models.BooleanField(
        "Accept REFER with 200",
        default=False,
        help_text="Device profile: answer an accepted REFER with 200 instead of 202 (RFC 7647).",
    )
    semi_attended_fallback_blind = models.BooleanField(
        "Semi-attended transfer falls back to blind",
        default=False,
        help_text="Device profile: a transfer onto a still-ringing consultation call cancels it "
        "and transfers blind to the same target instead of taking the early dialogue over.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    password_changed_at = models.DateTimeField(null=True, editable=False)

    objects = SIPAccountQuerySet.as_manager()

    class Meta:
        ordering = ["domain__name", "username"]
        verbose_name = "SIP account"
        constraints = [
            models.UniqueConstraint(fields=["domain", "username"], name="sipaccount_unique_aor"),
            transfer_default_constraint("sipaccount"),
            models.CheckConstraint(
                condition=~models.Q(ha1_md5="") & ~models.Q(ha1_sha256=""),
                name="sipaccount_has_credentials",
            ),
        ]

    def __str__(self) -> str:
        return self.aor

    @classmethod
    def from_db(cls, db, field_names, values):
        instance = super().from_db(db, field_names, values)
        loaded = instance.__dict__
        # Reading a deferred field here would load the row again, recursively (a cascading
        # delete loads only keys): identity is only tracked when both fields came with the row.
        if "username" in loaded and "domain_id" in loaded:
            instance._credentials_identity = (loaded["username"], loaded["domain_id"])
        return instance

    def clean(self) -> None:
        errors: dict[str, str] = {}
        domain = self.domain if self.domain_id else None
        if domain is not None and domain.customer_id not in (None, self.customer_id):
            errors["domain"] = "This domain belongs to another customer."
        for field in ("incoming_dialplan", "outgoing_dialplan"):
            dialplan = getattr(self, field)
            if dialplan is not None and dialplan.customer_id != self.customer_id:
                errors[field] = "This dialplan belongs to another customer."
        if not self.ha1_md5:
            errors["__all__"] = "Set a password for the account."
        elif not self._credentials_match_identity():
            errors["username"] = (
                "Changing the username or domain changes the digest realm: set a new password."
            )
        if errors:
            raise ValidationError(errors)

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._credentials_match_identity():
            raise ValidationError(
                "The account's username or domain changed without a new password."
            )
        super().save(*args, **kwargs)

    @property
    def aor(self) -> str:
        """The address of record ``username@domain``."""
        return f"{self.username}@{self.domain.name}" if self.domain_id else self.username

    @staticmethod
    def generate_password() -> str:
        """A random password a person can still type into a phone (22 URL-safe characters)."""
        return secrets.token_urlsafe(16)

    def set_password(self, raw_password: str) -> None:
        """Derive and keep the MD5 and SHA-256 HA1s; the clear password is not kept anywhere.

        The realm is the domain's name, so username and domain must be set first (``clean()``
        validates the username).
        """
        validate_sip_password(raw_password)
        realm = self.domain.name
        self.ha1_md5 = ha1(self.username, realm, raw_password, "MD5")
        self.ha1_sha256 = ha1(self.username, realm, raw_password, "SHA-256")
        self.password_changed_at = timezone.now()
        self._credentials_identity = self._identity()

    def ha1_for(self, algorithm: str) -> str:
        """The stored HA1 for ``MD5`` or ``SHA-256`` (RFC 8760 algorithm names)."""
        return {"MD5": self.ha1_md5, "SHA-256": self.ha1_sha256}[algorithm]

    def effective_transfer_policy(self) -> TransferPolicy:
        """The policy when no dial-string ``tr`` applies: account, then customer, then ``n``."""
        return transfer_policy_of(self.transfer_default, self.customer.transfer_default)

    def _identity(self) -> tuple[str, int | None]:
        return (self.username, self.domain_id)

    def _credentials_match_identity(self) -> bool:
        identity = getattr(self, "_credentials_identity", None)
        return identity is None or identity == self._identity()


def transfer_policy_of(account_default: str, customer_default: str) -> TransferPolicy:
    """The policy of an account whose own default is ``account_default`` and whose customer's
    is ``customer_default``: the first that does not inherit, else the platform's."""
    if account_default != TransferDefault.INHERIT:
        value, source = account_default, TransferPolicySource.ACCOUNT
    elif customer_default != TransferDefault.INHERIT:
        value, source = customer_default, TransferPolicySource.CUSTOMER
    else:
        value, source = PLATFORM_TRANSFER_DEFAULT, TransferPolicySource.PLATFORM
    return TransferPolicy(value=str(value), source=str(source))


class Binding(models.Model):
    """One registered contact of an account (RFC 3261 §10), as the registrar saw it."""

    class Transport(models.TextChoices):
        UDP = "udp", "UDP"
        TCP = "tcp", "TCP"
        TLS = "tls", "TLS"
        WS = "ws", "WebSocket"
        WSS = "wss", "Secure WebSocket"

    account = models.ForeignKey(SIPAccount, on_delete=models.CASCADE, related_name="bindings")
    contact_uri = models.CharField(max_length=1024)
    received_host = models.GenericIPAddressField(help_text="Source address of the REGISTER.")
    received_port = models.PositiveIntegerField(validators=[MaxValueValidator(65535)])
    transport = models.CharField(max_length=3, choices=Transport.choices)
    expires_at = models.DateTimeField()
    user_agent = models.CharField(max_length=255, blank=True)
    instance_id = models.CharField(
        max_length=255, blank=True, help_text="+sip.instance (RFC 5626)."
    )
    call_id = models.CharField("Call-ID", max_length=255)
    cseq = models.PositiveBigIntegerField("CSeq")
    worker_id = models.CharField(
        max_length=64, blank=True, help_text="SIP worker holding the connection, for TCP/TLS."
    )
    updated_at = models.DateTimeField(auto_now=True)

    objects = BindingQuerySet.as_manager()

    class Meta:
        ordering = ["account", "-expires_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "contact_uri"], name="binding_unique_contact"
            )
        ]
        indexes = [models.Index(fields=["account", "expires_at"], name="binding_account_expiry")]

    def __str__(self) -> str:
        return f"{self.account} -> {self.contact_uri}"
