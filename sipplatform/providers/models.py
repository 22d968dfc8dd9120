"""Providers (a customer's SIP trunks) and the state of the platform's registration to them."""

from __future__ import annotations

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from sipplatform.customers.models import Customer
from sipplatform.providers.managers import ProviderQuerySet, ProviderRegistrationQuerySet
from sipplatform.providers.secrets import decrypt_secret, encrypt_secret
from sipplatform.providers.validators import (
    parse_custom_headers,
    validate_custom_headers,
    validate_digest_username,
    validate_host,
    validate_provider_name,
    validate_sip_uri,
    validate_sip_user,
)


class Provider(models.Model):
    """A SIP trunk a customer's calls can leave through; dial strings name it ``user@name``.

    The password is stored only as a Fernet token (``password_encrypted``); read it with
    ``get_password()`` at the moment it is needed, never log it.
    """

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="providers")
    name = models.CharField(max_length=64, validators=[validate_provider_name])
    server_uri = models.CharField(
        "server", max_length=255, validators=[validate_sip_uri], help_text="sip:trunk.example.net"
    )
    outbound_proxy = models.CharField(
        max_length=255, blank=True, validators=[validate_sip_uri], help_text="Optional sip: URI."
    )
    username = models.CharField(max_length=128, blank=True, validators=[validate_sip_user])
    auth_username = models.CharField(
        max_length=128,
        blank=True,
        validators=[validate_digest_username],
        help_text="Digest user name when it differs from username.",
    )
    password_encrypted = models.TextField(blank=True, editable=False)
    from_user = models.CharField(
        "From user override", max_length=128, blank=True, validators=[validate_sip_user]
    )
    from_host = models.CharField(
        "From host override", max_length=255, blank=True, validators=[validate_host]
    )
    custom_headers = models.TextField(
        blank=True,
        validators=[validate_custom_headers],
        help_text="Extra headers, one 'Name: value' per line, added to calls to this provider.",
    )
    register = models.BooleanField(default=False, help_text="Register to the provider.")
    register_contact = models.CharField(
        max_length=255,
        blank=True,
        validators=[validate_sip_uri],
        help_text="Contact to register; empty means the platform's own address.",
    )
    register_expiry = models.PositiveIntegerField(
        default=3600, validators=[MinValueValidator(60), MaxValueValidator(86400)]
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ProviderQuerySet.as_manager()

    class Meta:
        ordering = ["customer__name", "name"]
        constraints = [
            models.UniqueConstraint(fields=["customer", "name"], name="provider_unique_name")
        ]

    def __str__(self) -> str:
        return f"{self.customer}: {self.name}"

    def set_password(self, raw_password: str) -> None:
        """Encrypt and keep ``raw_password``; an empty string clears it."""
        self.password_encrypted = encrypt_secret(raw_password) if raw_password else ""

    def get_password(self) -> str:
        """The clear password (raises ``ProviderSecretError`` if the keys changed)."""
        return decrypt_secret(self.password_encrypted) if self.password_encrypted else ""

    @property
    def has_password(self) -> bool:
        return bool(self.password_encrypted)

    def header_pairs(self) -> list[tuple[str, str]]:
        """The custom headers as ``(name, value)`` pairs, in order."""
        return parse_custom_headers(self.custom_headers)


class ProviderRegistration(models.Model):
    """Where the outbound registration to a provider stands (written by the SIP worker)."""

    provider = models.OneToOneField(
        Provider, on_delete=models.CASCADE, primary_key=True, related_name="registration"
    )
    registered = models.BooleanField(default=False)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_status = models.PositiveSmallIntegerField(null=True, blank=True)
    failure_reason = models.CharField(max_length=255, blank=True)
    worker_id = models.CharField(max_length=64, blank=True)

    objects = ProviderRegistrationQuerySet.as_manager()

    class Meta:
        ordering = ["provider"]

    def __str__(self) -> str:
        state = "registered" if self.registered else "not registered"
        return f"{self.provider}: {state}"
