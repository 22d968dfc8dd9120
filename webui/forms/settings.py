"""Forms of a customer's settings pages: transfer defaults, destination policy and limits."""

from __future__ import annotations

from typing import Any

from django import forms

from sipplatform.customers.models import Customer
from sipplatform.dialplans.models import DestinationPolicy
from sipplatform.directory.models import SIPAccount
from webui.forms.base import OwnedModelForm
from webui.forms.fields import LineListField


class CustomerTransferForm(forms.ModelForm):
    class Meta:
        model = Customer
        fields = ["transfer_default", "allow_cross_account_attended_transfer"]
        labels = {"transfer_default": "Customer transfer default"}


class AccountTransferForm(forms.ModelForm):
    """One row of the per-account table: the account's transfer default."""

    class Meta:
        model = SIPAccount
        fields = ["transfer_default"]


AccountTransferFormSet = forms.modelformset_factory(
    SIPAccount, form=AccountTransferForm, extra=0, can_delete=False
)


class DestinationPolicyForm(OwnedModelForm):
    denied_prefixes = LineListField(
        required=False,
        help_text="Number prefixes never dialled, digits only (no + or 00), one per line: "
        "44909, 1900. The platform's own list applies as well.",
    )
    allowed_country_codes = LineListField(
        required=False,
        help_text="If set, international numbers must start with one of these country codes "
        "(1, 44, 358). Empty allows every country the platform allows.",
    )

    class Meta:
        model = DestinationPolicy
        fields = ["denied_prefixes", "allowed_country_codes"]


class CustomerLimitsForm(forms.ModelForm):
    """Limits the operator sets; a customer's user sees them read-only."""

    class Meta:
        model = Customer
        fields = ["max_concurrent_executions", "max_calls_per_minute"]

    def __init__(self, *args: Any, editable: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.disabled = not editable
