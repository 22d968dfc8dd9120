"""Form fields for the list-valued model fields (CIDR allow lists, number prefixes)."""

from __future__ import annotations

import re

from django import forms

_SEPARATORS = re.compile(r"[\s,;]+")


class LineListField(forms.CharField):
    """A list of short strings typed one per line (commas and spaces also separate).

    The model field's own validators judge the items, so the error names the bad one.
    """

    widget = forms.Textarea(attrs={"rows": 3, "spellcheck": "false", "autocapitalize": "none"})

    def prepare_value(self, value: object) -> object:
        if isinstance(value, list):
            return "\n".join(str(item) for item in value)
        return value

    def to_python(self, value: object) -> list[str]:
        text = super().to_python(value)
        return [item for item in _SEPARATORS.split(text) if item]

    def has_changed(self, initial: object, data: object) -> bool:
        return self.to_python(self.prepare_value(initial) or "") != self.to_python(data)
