"""SIP account pages: list, create (password shown once), detail with contacts, edit,
disable/enable and password reset."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views import View
from django.views.generic import ListView, TemplateView

from sipplatform.directory.models import SIPAccount
from webui.accounts import (
    current_contacts,
    reset_password,
    set_disabled,
    with_contact_counts,
)
from webui.forms.accounts import AccountCreateForm, AccountEditForm
from webui.scope import scoped, visible_or_404
from webui.views.base import OwnedObjectFormView, PortalMixin

CONTACTS_POLL_SECONDS = 10


class AccountListView(PortalMixin, ListView):
    template_name = "webui/accounts/list.html"
    section = "accounts"
    context_object_name = "accounts"

    def get_queryset(self):
        return with_contact_counts(scoped(SIPAccount.objects.all(), self.request))


class AccountCreateView(OwnedObjectFormView):
    model = SIPAccount
    form_class = AccountCreateForm
    template_name = "webui/accounts/form.html"
    section = "accounts"

    def saved(self, form: AccountCreateForm) -> HttpResponse:
        return show_password_once(self, form.instance, form.generated_password, created=True)


class AccountEditView(OwnedObjectFormView):
    model = SIPAccount
    form_class = AccountEditForm
    template_name = "webui/accounts/form.html"
    section = "accounts"
    success_url_name = "webui:account-detail"


class AccountDetailView(PortalMixin, TemplateView):
    template_name = "webui/accounts/detail.html"
    section = "accounts"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        account = visible_or_404(
            SIPAccount.objects.select_related("customer", "domain"), self.request, pk=kwargs["pk"]
        )
        return super().get_context_data(
            account=account,
            contacts=current_contacts(account),
            poll_seconds=CONTACTS_POLL_SECONDS,
            policy=account.effective_transfer_policy(),
            **kwargs,
        )


class AccountContactsView(PortalMixin, View):
    """The registered-contacts card alone: what the detail page's htmx polling swaps in."""

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        account = visible_or_404(SIPAccount.objects.all(), request, pk=pk)
        context = {
            "account": account,
            "contacts": current_contacts(account),
            "poll_seconds": CONTACTS_POLL_SECONDS,
        }
        return render(request, "webui/accounts/contacts.html", context)


class AccountDisableView(PortalMixin, View):
    """POST ``disabled=1`` to disable the account, ``disabled=0`` to enable it again."""

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        account = visible_or_404(SIPAccount.objects.all(), request, pk=pk)
        disabled = request.POST.get("disabled") == "1"
        set_disabled(account, disabled)
        messages.success(request, f"{account} is {'disabled' if disabled else 'enabled'}.")
        return redirect("webui:account-detail", pk=account.pk)


class AccountResetPasswordView(PortalMixin, View):
    section = "accounts"

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        account = visible_or_404(SIPAccount.objects.select_related("domain"), request, pk=pk)
        return show_password_once(self, account, reset_password(account), created=False)


def show_password_once(
    view: PortalMixin, account: SIPAccount, password: str, *, created: bool
) -> HttpResponse:
    """The only page that ever shows the password; the browser is told not to keep it."""
    response = render(
        view.request,
        "webui/accounts/password.html",
        view.get_context_data(account=account, password=password, created=created),
    )
    response["Cache-Control"] = "no-store"
    return response
