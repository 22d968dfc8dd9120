"""Records pages: call detail records and transfer audit records, filtered, paginated and
exported as CSV (streamed, the user's own records only), and one transfer's timeline."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.handlers.asgi import ASGIRequest
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views import View
from django.views.generic import TemplateView

from sipplatform.calls.models import CallDetailRecord, TransferAuditRecord
from sipplatform.directory.models import SIPAccount
from webui.forms.records import CallFilterForm, RecordFilterForm, TransferFilterForm
from webui.records import (
    CALL_CSV_COLUMNS,
    TRANSFER_CSV_COLUMNS,
    acsv_rows,
    csv_rows,
    filter_calls,
    filter_transfers,
    transfer_timeline,
)
from webui.scope import scoped, visible_or_404
from webui.views.base import PortalMixin

PAGE_SIZE = 25


class RecordListView(PortalMixin, View):
    """A filtered, paginated list; ``?format=csv`` streams every matching record instead."""

    model: type[CallDetailRecord] | type[TransferAuditRecord]
    filter_form: type[RecordFilterForm]
    template_name = ""
    csv_columns: list[tuple[str, str]] = []
    csv_name = ""
    apply: Callable[[QuerySet, dict[str, Any]], QuerySet]
    """The filter function of this kind of record (``filter_calls``, ``filter_transfers``)."""

    def get(self, request: HttpRequest) -> HttpResponse:
        accounts = scoped(SIPAccount.objects.select_related("domain"), request)
        form = self.filter_form(request.GET or None, accounts=accounts)
        records = scoped(self.model.objects.all(), request)
        valid = form.is_valid() if form.is_bound else True
        records = self.apply(records, form.cleaned_data if form.is_bound and valid else {})
        if request.GET.get("format") == "csv" and valid:
            return self.csv(request, records)
        page = Paginator(records, PAGE_SIZE).get_page(request.GET.get("page"))
        query = request.GET.copy()
        query.pop("page", None)
        context = self.get_context_data(
            form=form, page=page, records=page.object_list if valid else [], query=query.urlencode()
        )
        return render(request, self.template_name, context, status=200 if valid else 400)

    def csv(self, request: HttpRequest, records: QuerySet) -> StreamingHttpResponse:
        """Streamed: an async iterator under ASGI (daphne), a plain one under WSGI."""
        stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
        rows = acsv_rows if isinstance(request, ASGIRequest) else csv_rows
        response = StreamingHttpResponse(
            rows(records, self.csv_columns), content_type="text/csv; charset=utf-8"
        )
        response["Content-Disposition"] = f'attachment; filename="{self.csv_name}-{stamp}.csv"'
        return response


class CallRecordListView(RecordListView):
    model = CallDetailRecord
    filter_form = CallFilterForm
    template_name = "webui/records/calls.html"
    section = "calls"
    csv_columns = CALL_CSV_COLUMNS
    csv_name = "calls"
    apply = staticmethod(filter_calls)


class TransferRecordListView(RecordListView):
    model = TransferAuditRecord
    filter_form = TransferFilterForm
    template_name = "webui/records/transfers.html"
    section = "transfers"
    csv_columns = TRANSFER_CSV_COLUMNS
    csv_name = "transfers"
    apply = staticmethod(filter_transfers)


class TransferRecordDetailView(PortalMixin, TemplateView):
    template_name = "webui/records/transfer_detail.html"
    section = "transfers"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        record = visible_or_404(
            TransferAuditRecord.objects.select_related("customer", "account__domain"),
            self.request,
            pk=kwargs["pk"],
        )
        return super().get_context_data(record=record, timeline=transfer_timeline(record), **kwargs)
