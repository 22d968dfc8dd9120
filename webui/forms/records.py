"""Filters of the call detail record and transfer audit lists (GET forms, all optional)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import QuerySet

from sipplatform.calls.models import CallDetailRecord, TransferAuditRecord

CALL_OUTCOMES = [("", "Any"), ("answered", "Answered"), ("unanswered", "Not answered")]


class RecordFilterForm(forms.Form):
    """Date range, account and number; the subclasses add direction and outcome."""

    date_from = forms.DateField(
        label="From date", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        label="To date", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    account = forms.ModelChoiceField(queryset=None, required=False, empty_label="Any")
    number = forms.CharField(
        label="Number or user",
        required=False,
        max_length=64,
        help_text="Part of the From, To or dialled destination.",
    )

    def __init__(self, *args: Any, accounts: QuerySet, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["account"].queryset = accounts

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        start, end = cleaned.get("date_from"), cleaned.get("date_to")
        if start and end and start > end:
            self.add_error("date_to", "The end date is before the start date.")
        return cleaned


class CallFilterForm(RecordFilterForm):
    direction = forms.ChoiceField(
        choices=[("", "Any"), *CallDetailRecord.Direction.choices], required=False
    )
    outcome = forms.ChoiceField(choices=CALL_OUTCOMES, required=False)


class TransferFilterForm(RecordFilterForm):
    kind = forms.ChoiceField(
        choices=[("", "Any"), *TransferAuditRecord.Kind.choices], required=False
    )
    outcome = forms.ChoiceField(
        choices=[("", "Any"), *TransferAuditRecord.Outcome.choices], required=False
    )
