"""Customers (tenants) and the portal users who act for them."""

from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.text import slugify

from sipcore.directory import PLATFORM_TRANSFER_DEFAULT
from sipplatform.customers.managers import CustomerQuerySet, UserManager


class TransferDefault(models.TextChoices):
    """A transfer default on a customer or a SIP account (TRANSFER.md, "The policy")."""

    INHERIT = "inherit", "Inherit"
    DISABLED = "n", "n: transfers disabled"
    PASS_THROUGH = "p", "p: pass blind transfers to the other party"
    PLACE_CALL = "c", "c: process transfers on the server"


def transfer_default_constraint(model_name: str) -> models.CheckConstraint:
    """The database-level guard that a transfer default is one of the four values."""
    return models.CheckConstraint(
        condition=models.Q(transfer_default__in=TransferDefault.values),
        name=f"{model_name}_transfer_default_valid",
    )


class Customer(models.Model):
    """A tenant: owns SIP accounts, providers, dialplans, policy and call records."""

    name = models.CharField(max_length=100, unique=True)
    slug = models.SlugField(max_length=100, unique=True, blank=True)
    suspended = models.BooleanField(
        default=False, help_text="A suspended customer's calls and registrations are refused."
    )
    max_concurrent_executions = models.PositiveIntegerField(
        default=5,
        validators=[MinValueValidator(1), MaxValueValidator(1000)],
        help_text="Dialplan executions running at once; past it new calls get 480.",
    )
    max_calls_per_minute = models.PositiveIntegerField(
        default=60,
        validators=[MaxValueValidator(100000)],
        help_text="Calls started per minute; 0 means no limit.",
    )
    transfer_default = models.CharField(
        max_length=8,
        choices=TransferDefault.choices,
        default=TransferDefault.INHERIT,
        help_text="Inherit means the platform default, n.",
    )
    allow_cross_account_attended_transfer = models.BooleanField(
        default=False,
        help_text="Attended transfers may replace a dialogue of another account of this customer.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = CustomerQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        constraints = [transfer_default_constraint("customer")]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        self.name = self.name.strip()
        if not self.slug:
            self.slug = slugify(self.name)
        if not self.slug:
            raise ValidationError({"name": "The name needs at least one letter or digit."})

    def save(self, *args, **kwargs) -> None:
        if not self.slug:
            self.slug = slugify(self.name)
        super().save(*args, **kwargs)

    def effective_transfer_default(self) -> str:
        """``n``, ``p`` or ``c``: the customer's own value, or the platform default."""
        if self.transfer_default == TransferDefault.INHERIT:
            return PLATFORM_TRANSFER_DEFAULT
        return self.transfer_default


class User(AbstractUser):
    """A portal user: platform staff (no customer) or a customer's administrator."""

    class Role(models.TextChoices):
        STAFF = "staff", "Platform staff"
        CUSTOMER_ADMIN = "customer_admin", "Customer administrator"

    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, null=True, blank=True, related_name="users"
    )
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.CUSTOMER_ADMIN)

    objects = UserManager()

    class Meta(AbstractUser.Meta):
        swappable = "AUTH_USER_MODEL"
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(role="staff", customer__isnull=True)
                    | models.Q(role="customer_admin", customer__isnull=False)
                ),
                name="user_role_matches_customer",
            )
        ]

    def __str__(self) -> str:
        return self.username

    def clean(self) -> None:
        super().clean()
        if self.role == self.Role.STAFF and self.customer_id is not None:
            raise ValidationError({"customer": "Platform staff belong to no customer."})
        if self.role == self.Role.CUSTOMER_ADMIN and self.customer_id is None:
            raise ValidationError({"customer": "A customer administrator needs a customer."})

    @property
    def is_platform_staff(self) -> bool:
        return self.role == self.Role.STAFF
