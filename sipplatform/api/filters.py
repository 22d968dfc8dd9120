"""Query-string filters (django-filter) for the list endpoints."""

from __future__ import annotations

from datetime import UTC, datetime

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django_filters import rest_framework as filters
from django_filters.fields import IsoDateTimeField

from sipplatform.calls.models import CallDetailRecord, TransferAuditRecord
from sipplatform.directory.models import Binding, SIPAccount

MAX_ID = 2**63 - 1


class IdFilter(filters.NumberFilter):
    """An object id: a whole number a database key can hold, so a huge one is a 400, not an
    overflow inside the database driver."""

    field_class = forms.IntegerField

    def __init__(self, *args: object, **kwargs: object) -> None:
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(*args, **kwargs)


class UtcDateTimeField(IsoDateTimeField):
    """An ISO 8601 time converted to UTC: any offset Python accepts (up to ±24 h) reaches the
    database as UTC, which PostgreSQL's narrower offset range can always store."""

    def to_python(self, value: object) -> datetime | None:
        moment = super().to_python(value)
        if moment is None:
            return None
        try:
            return moment.astimezone(UTC)
        except OverflowError:
            raise ValidationError("The time is out of range.", code="invalid") from None


class TimeFilter(filters.IsoDateTimeFilter):
    field_class = UtcDateTimeField


class CustomerFilterSet(filters.FilterSet):
    """Every tenant-owned list can be narrowed to one customer (useful to platform staff)."""

    customer = IdFilter(field_name="customer", help_text="Customer id.")


class SIPAccountFilter(CustomerFilterSet):
    username = filters.CharFilter(lookup_expr="icontains")
    domain = filters.CharFilter(field_name="domain__name", help_text="Domain name, exact.")
    disabled = filters.BooleanFilter()

    class Meta:
        model = SIPAccount
        fields = ["customer", "username", "domain", "disabled"]


class BindingFilter(filters.FilterSet):
    account = IdFilter(field_name="account", help_text="SIP account id.")

    class Meta:
        model = Binding
        fields = ["account"]


class CallDetailRecordFilter(CustomerFilterSet):
    class Outcome:
        ANSWERED = "answered"
        UNANSWERED = "unanswered"
        IN_PROGRESS = "in_progress"
        CHOICES = [
            (ANSWERED, "answered"),
            (UNANSWERED, "ended without an answer"),
            (IN_PROGRESS, "not hung up yet"),
        ]

    since = TimeFilter(
        field_name="created_at", lookup_expr="gte", help_text="Created at or after (ISO 8601)."
    )
    until = TimeFilter(
        field_name="created_at", lookup_expr="lt", help_text="Created before (ISO 8601)."
    )
    direction = filters.ChoiceFilter(choices=CallDetailRecord.Direction.choices)
    account = IdFilter(field_name="account", help_text="SIP account id.")
    provider = IdFilter(field_name="provider", help_text="Provider id.")
    number = filters.CharFilter(
        method="filter_number", help_text="Part of the From, To or dialled destination."
    )
    outcome = filters.ChoiceFilter(choices=Outcome.CHOICES, method="filter_outcome")
    call_id = filters.CharFilter(field_name="call_id")

    class Meta:
        model = CallDetailRecord
        fields = ["since", "until", "direction", "account", "provider", "number", "outcome"]

    def filter_number(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.matching_number(value)

    def filter_outcome(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        if value == self.Outcome.ANSWERED:
            return queryset.answered()
        if value == self.Outcome.UNANSWERED:
            return queryset.filter(answered_at__isnull=True, hungup_at__isnull=False)
        return queryset.filter(hungup_at__isnull=True)


class TransferAuditRecordFilter(CustomerFilterSet):
    since = TimeFilter(
        field_name="requested_at", lookup_expr="gte", help_text="Requested at or after."
    )
    until = TimeFilter(field_name="requested_at", lookup_expr="lt", help_text="Requested before.")
    account = IdFilter(field_name="account", help_text="Transferor's account id.")
    number = filters.CharFilter(
        method="filter_number", help_text="Part of the transferor, transferee or target."
    )
    outcome = filters.ChoiceFilter(choices=TransferAuditRecord.Outcome.choices)
    decision = filters.ChoiceFilter(choices=TransferAuditRecord.Decision.choices)
    kind = filters.ChoiceFilter(choices=TransferAuditRecord.Kind.choices)
    call_id = filters.CharFilter(field_name="call_id")

    class Meta:
        model = TransferAuditRecord
        fields = ["since", "until", "account", "number", "outcome", "decision", "kind"]

    def filter_number(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.matching_number(value)
