"""Provider pages: list with live registration state (htmx polling), create, edit."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views import View
from django.views.generic import ListView

from sipplatform.providers.models import Provider, ProviderRegistration
from webui.dashboard import provider_row
from webui.forms.providers import PortalProviderForm
from webui.scope import scoped, visible_or_404
from webui.views.base import OwnedObjectFormView, PortalMixin

REGISTRATION_POLL_SECONDS = 5


class ProviderListView(PortalMixin, ListView):
    template_name = "webui/providers/list.html"
    section = "providers"

    def get_queryset(self):
        return scoped(Provider.objects.select_related("customer", "registration"), self.request)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["rows"] = [provider_row(provider) for provider in context["object_list"]]
        context["poll_seconds"] = REGISTRATION_POLL_SECONDS
        return context


class ProviderFormView(OwnedObjectFormView):
    model = Provider
    form_class = PortalProviderForm
    template_name = "webui/providers/form.html"
    section = "providers"
    success_url_name = "webui:provider-edit"

    def saved(self, form: PortalProviderForm) -> HttpResponse:
        ProviderRegistration.objects.get_or_create(provider=form.instance)
        return super().saved(form)


class ProviderRegistrationView(PortalMixin, View):
    """The registration cell of one provider: what the list page's htmx polling swaps in."""

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        provider = visible_or_404(Provider.objects.select_related("registration"), request, pk=pk)
        return render(
            request,
            "webui/providers/registration_cell.html",
            {"row": provider_row(provider), "poll_seconds": REGISTRATION_POLL_SECONDS},
        )
