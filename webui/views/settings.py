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
from webui.forms.settings import (
    AccountTransferFormSet,
    CustomerLimitsForm,
    CustomerTransferForm,
    DestinationPolicyForm,
)
from webui.settings import effective_policies, policy_of, save_policy, save_transfer_defaults
from webui.views.base import PortalMixin, choose_customer_first


class TransferDefaultsView(PortalMixin, View):
    """The customer's transfer default and each account's, with what they mean."""

    section = "transfer-settings"
    template_name = "webui/settings/transfers.html"

    def forms(self, request: HttpRequest) -> tuple[CustomerTransferForm, Any]:
        data = request.POST if request.method == "POST" else None
        accounts = SIPAccount.objects.for_customer(self.customer).select_related("domain")
        return (
            CustomerTransferForm(data, instance=self.customer, prefix="customer"),
            AccountTransferFormSet(data, queryset=accounts, prefix="accounts"),
        )

    def page(self, request: HttpRequest, customer_form: forms.Form, formset: Any) -> HttpResponse:
        accounts = [form.instance for form in formset.forms]
        rows = zip(formset.forms, effective_policies(accounts), strict=True)
        context = self.get_context_data(customer_form=customer_form, formset=formset, rows=rows)
        status = 400 if customer_form.errors or any(formset.errors) else 200
        return render(request, self.template_name, context, status=status)

    def get(self, request: HttpRequest) -> HttpResponse:
        if self.customer is None:
            return choose_customer_first(self, request)
        return self.page(request, *self.forms(request))

    def post(self, request: HttpRequest) -> HttpResponse:
        if self.customer is None:
            return choose_customer_first(self, request)
        customer_form, formset = self.forms(request)
        if not (customer_form.is_valid() and formset.is_valid()):
            return self.page(request, customer_form, formset)
        save_transfer_defaults(customer_form, formset)
        messages.success(request, "Saved the transfer defaults.")
        return redirect("webui:transfer-settings")


class DestinationPolicyView(PortalMixin, View):
    """Denied prefixes and allowed countries (the customer's), limits (staff set them), and a
    number checker that applies the policy in force."""

    section = "policy"
    template_name = "webui/settings/policy.html"

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

    def get(self, request: HttpRequest) -> HttpResponse:
        if self.customer is None:
            return choose_customer_first(self, request)
        return self.page(request, *self.forms(request))

    def post(self, request: HttpRequest) -> HttpResponse:
        if self.customer is None:
            return choose_customer_first(self, request)
        policy_form, limits_form = self.forms(request)
        if not (policy_form.is_valid() and limits_form.is_valid()):
            return self.page(request, policy_form, limits_form)
        save_policy(policy_form, limits_form)
        messages.success(request, "Saved the destination policy.")
        return redirect("webui:policy")
