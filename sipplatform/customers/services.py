"""Provisioning customers and their portal users (used by commands, the portal and seeding)."""

from __future__ import annotations

import secrets

from django.db import transaction

from sipplatform.customers.models import Customer, User


@transaction.atomic
def create_customer(name: str, **fields: object) -> Customer:
    """A new customer; raises ``ValidationError`` (nothing saved) on a bad or taken name."""
    customer = Customer(name=name, **fields)
    customer.full_clean()
    customer.save()
    return customer


@transaction.atomic
def create_customer_admin(
    customer: Customer, username: str, password: str | None = None, **fields: object
) -> tuple[User, str]:
    """A portal login for ``customer``; returns the user and the password (generated if None)."""
    password = password or secrets.token_urlsafe(12)
    user = User(username=username, customer=customer, role=User.Role.CUSTOMER_ADMIN, **fields)
    user.set_password(password)
    user.full_clean()
    user.save()
    return user, password
