"""Provider form with a write-only password: the stored password is never sent to a browser."""

from __future__ import annotations

from django import forms

from sipplatform.providers.models import Provider


class ProviderForm(forms.ModelForm):
    password = forms.CharField(
        required=False,
        strip=False,
        max_length=256,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="Leave blank to keep the stored password.",
    )
    clear_password = forms.BooleanField(required=False, help_text="Remove the stored password.")

    class Meta:
        model = Provider
        fields = [
            "customer",
            "name",
            "server_uri",
            "outbound_proxy",
            "username",
            "auth_username",
            "password",
            "clear_password",
            "from_user",
            "from_host",
            "custom_headers",
            "register",
            "register_contact",
            "register_expiry",
        ]

    def clean(self) -> dict:
        cleaned = super().clean()
        if cleaned.get("password") and cleaned.get("clear_password"):
            self.add_error("clear_password", "Either set a new password or clear it, not both.")
        elif cleaned.get("password"):
            self.instance.set_password(cleaned["password"])
        elif cleaned.get("clear_password"):
            self.instance.set_password("")
        return cleaned
