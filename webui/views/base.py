"""What every portal page shares: sign-in, the customer it acts for, the switcher."""

from __future__ import annotations

from functools import cached_property
from typing import Any

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.db import transaction
from django.db.models import Model
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views import View
from django.views.generic.base import ContextMixin

from sipplatform.customers.managers import is_platform_staff
from sipplatform.customers.models import Customer
from webui.forms.base import OwnedModelForm
from webui.scope import chosen_customer, switcher_customers, visible_or_404


class PortalMixin(LoginRequiredMixin, ContextMixin):
    """Signed-in pages; ``section`` names the navigation entry the page belongs to."""

    section = ""

    @cached_property
    def customer(self) -> Customer | None:
        """The customer the page acts for (None: staff who chose every customer)."""
        return chosen_customer(self.request)

    @property
    def is_staff(self) -> bool:
        return is_platform_staff(self.request.user)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context.update(
            section=self.section,
            portal_customer=self.customer,
            switcher_customers=switcher_customers(self.request),
            is_platform_staff=self.is_staff,
        )
        return context


class OwnedObjectFormView(PortalMixin, View):
    """Create (no ``pk`` in the URL) or edit one customer-owned object through a form.

    The object is looked up through ``visible_to`` (another customer's id is 404); a new
    object belongs to the customer the page acts for, and staff who chose none are asked to
    choose one first. Saving runs in one transaction, so a failure saves nothing.
    """

    model: type[Model]
    form_class: type[OwnedModelForm]
    template_name = ""
    success_url_name = ""

    def get_object(self) -> Model | None:
        if "pk" not in self.kwargs:
            return None
        return visible_or_404(self.model.objects.all(), self.request, pk=self.kwargs["pk"])

    def owner_of(self, obj: Model | None) -> Customer | None:
        return obj.customer if obj is not None else self.customer

    def get_form(self, obj: Model | None, owner: Customer) -> OwnedModelForm:
        data = self.request.POST if self.request.method == "POST" else None
        return self.form_class(data, instance=obj, customer=owner)

    def saved(self, form: OwnedModelForm) -> HttpResponse:
        messages.success(self.request, f"Saved {form.instance}.")
        return redirect(self.success_url_name, pk=form.instance.pk)

    def render(self, form: OwnedModelForm, obj: Model | None, **extra: Any) -> HttpResponse:
        context = self.get_context_data(form=form, object=obj, **extra)
        status = 400 if form.is_bound and form.errors else 200
        return render(self.request, self.template_name, context, status=status)

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        obj = self.get_object()
        owner = self.owner_of(obj)
        if owner is None:
            return choose_customer_first(self, request)
        return self.render(self.get_form(obj, owner), obj)

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        obj = self.get_object()
        owner = self.owner_of(obj)
        if owner is None:
            return choose_customer_first(self, request)
        form = self.get_form(obj, owner)
        if not form.is_valid():
            return self.render(form, obj)
        with transaction.atomic():
            form.save()
            return self.saved(form)


def choose_customer_first(view: PortalMixin, request: HttpRequest) -> HttpResponse:
    """Staff acting for every customer asked to create something: which customer's?"""
    return render(request, "webui/choose_customer.html", view.get_context_data(), status=409)
