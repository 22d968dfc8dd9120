"""Helpers shared by the operator commands: find a customer, explain a validation error."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.management.base import CommandError

from sipplatform.customers.models import Customer


def find_customer(reference: str) -> Customer:
    """The customer whose name or slug is ``reference``; a ``CommandError`` otherwise."""
    customer = (
        Customer.objects.filter(name=reference).first()
        or Customer.objects.filter(slug=reference).first()
    )
    if customer is None:
        raise CommandError(f"no customer named {reference!r} (see `manage.py customer list`)")
    return customer


def validation_error(exc: ValidationError) -> CommandError:
    """A ``CommandError`` listing each field's messages on one line."""
    if hasattr(exc, "error_dict"):
        parts = [
            message if field == "__all__" else f"{field}: {message}"
            for field, messages in exc.message_dict.items()
            for message in messages
        ]
    else:
        parts = exc.messages
    return CommandError("; ".join(parts))
