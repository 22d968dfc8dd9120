"""Dialplans (Starlark scripts) and the destination policy that guards against toll fraud."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.db.models.functions import Coalesce

from sipplatform.customers.models import Customer
from sipplatform.dialplans.managers import DestinationPolicyQuerySet, DialplanQuerySet
from sipplatform.dialplans.validators import (
    validate_country_code_list,
    validate_dialplan_name,
    validate_dialplan_source,
    validate_prefix_list,
)

TRANSFER_DIALPLAN_NAME = "transfer"


class Dialplan(models.Model):
    """A customer's Starlark script deciding where a call goes.

    The dialplan named ``transfer`` is the one server-side blind transfers run. The source is
    parsed on every save: a script with a syntax error is never stored.
    """

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="dialplans")
    name = models.CharField(max_length=64, validators=[validate_dialplan_name])
    script = models.TextField(validators=[validate_dialplan_source])
    description = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = DialplanQuerySet.as_manager()

    class Meta:
        ordering = ["customer__name", "name"]
        constraints = [
            models.UniqueConstraint(fields=["customer", "name"], name="dialplan_unique_name")
        ]

    def __str__(self) -> str:
        return f"{self.customer}: {self.name}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        validate_dialplan_source(self.script)
        super().save(*args, **kwargs)

    @property
    def is_transfer_dialplan(self) -> bool:
        return self.name == TRANSFER_DIALPLAN_NAME


class DestinationPolicy(models.Model):
    """Toll-fraud rules: the platform-wide row (no customer) and one optional row per customer.

    The platform row is pre-filled with common premium-rate and satellite ranges by the data
    migration ``0002_premium_rate_prefixes``, whose docstring lists them.
    """

    customer = models.ForeignKey(
        Customer,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="destination_policies",
        help_text="Empty for the platform-wide policy.",
    )
    denied_prefixes = models.JSONField(
        default=list,
        blank=True,
        validators=[validate_prefix_list],
        help_text="Number prefixes (digits, no + or 00) never dialled, e.g. 44909, 0909, 1900.",
    )
    allowed_country_codes = models.JSONField(
        default=list,
        blank=True,
        validators=[validate_country_code_list],
        help_text="If set, numbers dialled in international form must start with one of these.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    objects = DestinationPolicyQuerySet.as_manager()

    class Meta:
        verbose_name_plural = "destination policies"
        constraints = [
            models.UniqueConstraint(
                Coalesce("customer", models.Value(0)), name="destinationpolicy_one_per_scope"
            )
        ]

    def __str__(self) -> str:
        return f"Destination policy: {self.customer or 'platform'}"

    def clean(self) -> None:
        self.denied_prefixes = sorted(set(self.denied_prefixes or []))
        self.allowed_country_codes = sorted(set(self.allowed_country_codes or []))
