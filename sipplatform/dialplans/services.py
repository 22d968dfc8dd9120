"""Saving dialplans and judging destinations against the destination policy."""

from __future__ import annotations

from django.db import transaction

from sipcore.policy import Decision
from sipplatform.customers.models import Customer
from sipplatform.dialplans.models import DestinationPolicy, Dialplan


@transaction.atomic
def save_dialplan(
    customer: Customer, name: str, script: str, description: str | None = None
) -> tuple[Dialplan, bool]:
    """Create or replace the customer's dialplan ``name``; returns it and whether it is new.

    Raises ``ValidationError`` (with line and column for a syntax error) and saves nothing.
    """
    dialplan = Dialplan.objects.for_customer(customer).select_for_update().filter(name=name).first()
    created = dialplan is None
    if created:
        dialplan = Dialplan(customer=customer, name=name)
    dialplan.script = script
    if description is not None:
        dialplan.description = description
    dialplan.full_clean()
    dialplan.save()
    return dialplan, created


def judge_destination(customer: Customer | int | None, user: str) -> Decision:
    """Whether ``customer`` may dial ``user`` (a number or a name) under the destination policy."""
    return DestinationPolicy.objects.rules_for(customer).judge(user)
