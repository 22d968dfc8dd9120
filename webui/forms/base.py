"""The base of every portal form for an object a customer owns."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from sipplatform.customers.models import Customer


class OwnedModelForm(forms.ModelForm):
    """A model form whose object belongs to ``customer``, which is never a form field.

    The page decides the customer (the object's own when editing), so a posted customer id
    cannot move an object to another tenant. Constraints naming the customer, such as a
    name unique per customer, are still checked, so a clash is a form error, not a crash.
    """

    def __init__(self, *args: Any, customer: Customer, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.customer = customer
        self.instance.customer = customer

    def validate_unique(self) -> None:
        super().validate_unique()
        exclude = self._get_validation_exclusions() - {"customer"}
        try:
            self.instance.validate_constraints(exclude=exclude)
        except ValidationError as exc:
            self._update_errors(exc)
