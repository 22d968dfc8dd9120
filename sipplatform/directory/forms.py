"""Forms that set a SIP account's password: the admin uses them and the portal can subclass them."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError

from sipplatform.directory.models import SIPAccount


class SIPAccountForm(forms.ModelForm):
    """A SIP account with a set-password field: required when adding, blank keeps it on change.

    The password only ever becomes the two HA1s (``SIPAccount.set_password``).
    """

    password = forms.CharField(
        label="Set password",
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="8 to 128 characters. Leave blank to keep the current password.",
    )

    class Meta:
        model = SIPAccount
        fields = [
            "customer",
            "domain",
            "username",
            "password",
            "incoming_dialplan",
            "outgoing_dialplan",
            "incoming_only",
            "disabled",
            "ip_allow_list",
            "max_concurrent_calls",
            "transfer_default",
            "refer_accept_with_200",
            "semi_attended_fallback_blind",
        ]

    def clean(self) -> dict:
        cleaned = super().clean()
        password = cleaned.get("password")
        if not password:
            if self.instance.pk is None:
                self.add_error("password", "A new account needs a password.")
            return cleaned
        if cleaned.get("username") is None or cleaned.get("domain") is None:
            return cleaned
        self.instance.username = cleaned["username"]
        self.instance.domain = cleaned["domain"]
        try:
            self.instance.set_password(password)
        except ValidationError as exc:
            self.add_error("password", exc)
        return cleaned
