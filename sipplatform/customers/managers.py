"""Tenant isolation: every query that serves a person goes through ``visible_to(user)``.

A platform staff user sees every customer's objects; a customer's user sees only its own
customer's; anyone else (anonymous, inactive, a customer user without a customer) sees none.
The portal, the REST API and the admin build on these methods instead of filtering by hand.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib.auth.models import UserManager as DjangoUserManager
from django.db import models

if TYPE_CHECKING:
    from sipplatform.customers.models import Customer


def is_platform_staff(user: Any) -> bool:
    """True for an active, signed-in platform staff user or superuser."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    return bool(user.is_superuser or getattr(user, "is_platform_staff", False))


def customer_id_of(user: Any) -> int | None:
    """The customer an active, signed-in customer user belongs to, else None."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return None
    return getattr(user, "customer_id", None)


class TenantQuerySet(models.QuerySet):
    """Query methods for models owned by a customer.

    ``customer_lookup`` is the path from the model to its customer (``"customer"``,
    ``"account__customer"``); ``platform_wide_visible`` makes rows without a customer (shared
    platform rows such as the default SIP domain) visible to every customer user.
    """

    customer_lookup = "customer"
    platform_wide_visible = False

    def for_customer(self, customer: Customer | int) -> TenantQuerySet:
        """Rows owned by ``customer`` (an instance or a primary key)."""
        return self.filter(**{self.customer_lookup: customer})

    def visible_to(self, user: Any) -> TenantQuerySet:
        """Rows ``user`` may read."""
        if is_platform_staff(user):
            return self.all()
        customer_id = customer_id_of(user)
        if customer_id is None:
            return self.none()
        own = models.Q(**{self.customer_lookup: customer_id})
        if self.platform_wide_visible:
            own |= models.Q(**{f"{self.customer_lookup}__isnull": True})
        return self.filter(own)


class CustomerQuerySet(models.QuerySet):
    def active(self) -> CustomerQuerySet:
        return self.filter(suspended=False)

    def visible_to(self, user: Any) -> CustomerQuerySet:
        if is_platform_staff(user):
            return self.all()
        customer_id = customer_id_of(user)
        return self.none() if customer_id is None else self.filter(pk=customer_id)


class UserQuerySet(TenantQuerySet):
    def platform_staff(self) -> UserQuerySet:
        return self.filter(role="staff")


class UserManager(DjangoUserManager.from_queryset(UserQuerySet)):
    """Django's user manager; superusers are platform staff."""

    def create_superuser(self, username, email=None, password=None, **extra_fields):
        extra_fields.setdefault("role", "staff")
        extra_fields.setdefault("customer", None)
        return super().create_superuser(username, email, password, **extra_fields)
