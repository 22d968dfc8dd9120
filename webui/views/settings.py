"""Settings pages of a customer: transfer defaults, destination policy and limits."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views import View

from sipplatform.dialplans.models import DestinationPolicy
from sipplatform.dialplans.services import judge_destination
from sipplatform.directory.models import SIPAccount
from webui.customer_settings import (
    effective_policies,
    policy_of,
    save_policy,
    save_transfer_defaults,
)
from webui.forms.settings import (
    AccountTransferFormSet,
    CustomerLimitsForm,
    CustomerTransferForm,
    DestinationPolicyForm,
)
from webui.views.base import PortalMixin, choose_customer_first


class CustomerSettingsView(PortalMixin, View):
    """A page of two forms about the current customer, saved together or not at all.

    Subclasses build the forms (``forms``), render them (``page``) and save them (``save``).
    """

    saved_message = ""
    success_url_name = ""

    def forms(self, request: HttpRequest) -> tuple[Any, Any]:
        raise NotImplementedError

    def page(self, request: HttpRequest, first: Any, second: Any) -> HttpResponse:
        raise NotImplementedError

    def save(self, first: Any, second: Any) -> None:
        raise NotImplementedError

    def get(self, request: HttpRequest) -> HttpResponse:
        if self.customer is None:
            return choose_customer_first(self, request)
        return self.page(request, *self.forms(request))

    def post(self, request: HttpRequest) -> HttpResponse:
        if self.customer is None:
            return choose_customer_first(self, request)
        first, second = self.forms(request)
        if not (first.is_valid() and second.is_valid()):
            return self.page(request, first, second)
        self.save(first, second)
        messages.success(request, self.saved_message)
        return redirect(self.success_url_name)


class TransferDefaultsView(CustomerSettingsView):
    """The customer's transfer default and each account's, with what they mean."""

    section = "transfer-settings"
    template_name = "webui/settings/transfers.html"
    saved_message = "Saved the transfer defaults."
    success_url_name = "webui:transfer-settings"

    def forms(self, request: HttpRequest) -> tuple[CustomerTransferForm, Any]:
        data = request.POST if request.method == "POST" else None
        accounts = SIPAccount.objects.for_customer(self.customer).select_related("domain")
        return (
            CustomerTransferForm(data, instance=self.customer, prefix="customer"),
            AccountTransferFormSet(data, queryset=accounts, prefix="accounts"),
        )

    def page(self, request: HttpRequest, customer_form: forms.Form, formset: Any) -> HttpResponse:
        accounts = [form.instance for form in formset.forms]
        for account in accounts:
            if account.pk is None:  # a tampered row names no account of ours: shown with its error
                account.customer = self.customer
        rows = zip(formset.forms, effective_policies(accounts), strict=True)
        context = self.get_context_data(customer_form=customer_form, formset=formset, rows=rows)
        status = 400 if customer_form.errors or any(formset.errors) else 200
        return render(request, self.template_name, context, status=status)

    def save(self, customer_form: forms.Form, formset: Any) -> None:
        save_transfer_defaults(customer_form, formset)


class DestinationPolicyView(CustomerSettingsView):
    """Denied prefixes and allowed countries (the customer's), limits (staff set them), and a
    number checker that applies the policy in force."""

    section = "policy"
    template_name = "webui/settings/policy.html"
    saved_message = "Saved the destination policy."
    success_url_name = "webui:policy"

    def forms(self, request: HttpRequest) -> tuple[DestinationPolicyForm, CustomerLimitsForm]:
        data = request.POST if request.method == "POST" else None
        return (
            DestinationPolicyForm(data, instance=policy_of(self.customer), customer=self.customer),
            CustomerLimitsForm(data, instance=self.customer, editable=self.is_staff),
        )

    def page(
        self, request: HttpRequest, policy_form: forms.Form, limits_form: forms.Form
    ) -> HttpResponse:
        number = request.GET.get("number", "").strip()[:64]
        context = self.get_context_data(
            policy_form=policy_form,
            limits_form=limits_form,
            platform_policy=DestinationPolicy.objects.platform(),
            number=number,
            decision=judge_destination(self.customer, number) if number else None,
        )
        status = 400 if policy_form.errors or limits_form.errors else 200
        return render(request, self.template_name, context, status=status)

    def save(self, policy_form: forms.Form, limits_form: forms.Form) -> None:
        save_policy(policy_form, limits_form)
