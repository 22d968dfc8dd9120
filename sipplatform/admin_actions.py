"""Helpers for the Django admin's bulk actions."""

from typing import Any

from django.db import transaction
from django.db.models import QuerySet


def save_each(queryset: QuerySet, **values: Any) -> int:
    """Set ``values`` on every selected row and save it, returning how many changed.

    Row by row rather than ``update()``: the models' save signals are how running SIP
    workers learn that an account was disabled or a customer suspended.
    """
    changed = 0
    with transaction.atomic():
        for instance in queryset.select_for_update():
            for field, value in values.items():
                setattr(instance, field, value)
            instance.save(update_fields=list(values))
            changed += 1
    return changed
