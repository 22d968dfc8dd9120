"""Dialplan pages: list, the editor (create and edit), delete, and the dry run."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views import View
from django.views.generic import ListView

from sipplatform.dialplans.models import Dialplan
from sipplatform.directory.services import default_domain
from webui.dryrun import DryRunBusy, DryRunCall, dry_run
from webui.forms.dialplans import DialplanForm, DryRunForm
from webui.scope import scoped, visible_or_404
from webui.views.base import OwnedObjectFormView, PortalMixin


class DialplanListView(PortalMixin, ListView):
    template_name = "webui/dialplans/list.html"
    section = "dialplans"

    def get_queryset(self):
        return scoped(Dialplan.objects.select_related("customer"), self.request)


class DialplanEditorView(OwnedObjectFormView):
    model = Dialplan
    form_class = DialplanForm
    template_name = "webui/dialplans/editor.html"
    section = "dialplans"
    success_url_name = "webui:dialplan-edit"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        if kwargs.get("object") is not None:
            kwargs.setdefault("dry_run_form", DryRunForm.for_dialplan(kwargs["object"]))
        return super().get_context_data(**kwargs)


class DialplanDeleteView(PortalMixin, View):
    section = "dialplans"

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        dialplan = visible_or_404(Dialplan.objects.all(), request, pk=pk)
        context = self.get_context_data(object=dialplan, users=_accounts_using(dialplan))
        return render(request, "webui/dialplans/delete.html", context)

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        dialplan = visible_or_404(Dialplan.objects.all(), request, pk=pk)
        name = str(dialplan)
        dialplan.delete()
        messages.success(request, f"Deleted the dialplan {name}.")
        return redirect("webui:dialplans")


class DialplanDryRunView(PortalMixin, View):
    """Runs the saved script; answers the result fragment to htmx, the whole editor otherwise."""

    section = "dialplans"

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        dialplan = visible_or_404(Dialplan.objects.select_related("customer"), request, pk=pk)
        form = DryRunForm(request.POST)
        actions, error = [], ""
        if form.is_valid():
            call = DryRunCall(domain=default_domain().name, **form.cleaned_data)
            try:
                actions = dry_run(dialplan, call)
            except DryRunBusy as exc:
                error = str(exc)
        context = {"dry_run_form": form, "actions": actions, "dry_run_error": error}
        if request.headers.get("HX-Request") == "true":
            # htmx swaps only 2xx answers: errors come back as a 200 fragment, shown inline.
            return render(request, "webui/dialplans/dry_run_result.html", context)
        status = 200 if form.is_valid() and not error else 400
        editor = DialplanForm(instance=dialplan, customer=dialplan.customer)
        page = self.get_context_data(form=editor, object=dialplan, **context)
        return render(request, "webui/dialplans/editor.html", page, status=status)


def _accounts_using(dialplan: Dialplan) -> list[Any]:
    return [*dialplan.incoming_accounts.all(), *dialplan.outgoing_accounts.all()]
