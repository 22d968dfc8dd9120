"""The portal's provider form: the domain form without the customer field (the page's own)."""

from __future__ import annotations

from django import forms

from sipplatform.providers.forms import ProviderForm
from webui.forms.base import OwnedModelForm


class PortalProviderForm(OwnedModelForm, ProviderForm):
    custom_headers = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "spellcheck": "false"}),
        help_text="Extra headers, one 'Name: value' per line, added to calls to this provider.",
    )

    class Meta(ProviderForm.Meta):
        fields = [name for name in ProviderForm.Meta.fields if name != "customer"]
