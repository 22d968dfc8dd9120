"""Which customer a portal page acts for, and the querysets it may read.

A customer's user always acts for its own customer. Platform staff administer every customer:
the customer switcher in the layout stores the chosen one in the session; with none chosen,
lists show every customer's objects and creating something asks for a customer first.
Every object lookup goes through the tenant managers' ``visible_to(user)``, so an id of
another customer's object answers 404, whatever the switcher says.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Model, QuerySet
from django.http import Http404, HttpRequest

from sipplatform.customers.managers import is_platform_staff
from sipplatform.customers.models import Customer

SESSION_KEY = "portal_customer_id"


def chosen_customer(request: HttpRequest) -> Customer | None:
    """The customer the page acts for: the user's own, or the one staff chose (else None)."""
    user = request.user
    if not is_platform_staff(user):
        return Customer.objects.visible_to(user).first()
    customer_id = request.session.get(SESSION_KEY)
    if customer_id is None:
        return None
    return Customer.objects.filter(pk=customer_id).first()


def choose_customer(request: HttpRequest, customer_id: str) -> Customer | None:
    """Staff's switcher: act for ``customer_id`` ("" for every customer); 404 for others."""
    if not is_platform_staff(request.user):
        raise Http404("Only platform staff switch customers.")
    if not customer_id:
        request.session.pop(SESSION_KEY, None)
        return None
    customer = Customer.objects.filter(pk=customer_id).first() if customer_id.isdigit() else None
    if customer is None:
        raise Http404("No such customer.")
    request.session[SESSION_KEY] = customer.pk
    return customer


def scoped(queryset: QuerySet, request: HttpRequest) -> QuerySet:
    """``queryset`` narrowed to what the user may see and, for staff, to the chosen customer."""
    visible = queryset.visible_to(request.user)
    if is_platform_staff(request.user):
        customer = chosen_customer(request)
        if customer is not None:
            visible = visible.for_customer(customer)
    return visible


def visible_or_404(queryset: QuerySet, request: HttpRequest, **lookup: Any) -> Model:
    """The one object matching ``lookup`` that the user may see, else 404."""
    try:
        return queryset.visible_to(request.user).get(**lookup)
    except (queryset.model.DoesNotExist, ValueError):
        raise Http404(f"No such {queryset.model._meta.verbose_name}.") from None


def switcher_customers(request: HttpRequest) -> QuerySet | None:
    """The customers staff may switch between; None for a customer's user (no switcher)."""
    if not is_platform_staff(request.user):
        return None
    return Customer.objects.all()
