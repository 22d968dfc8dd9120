"""SIP account forms: create (the password is generated, never typed) and edit."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError

from sipplatform.customers.models import Customer
from sipplatform.dialplans.models import Dialplan
from sipplatform.directory.models import SIPAccount, SIPDomain
from webui.forms.base import OwnedModelForm
from webui.forms.fields import LineListField

EDITABLE_FIELDS = [
    "incoming_dialplan",
    "outgoing_dialplan",
    "incoming_only",
    "ip_allow_list",
    "max_concurrent_calls",
    "transfer_default",
    "refer_accept_with_200",
    "semi_attended_fallback_blind",
]


class AccountEditForm(OwnedModelForm):
    """An account's settings; username and domain are fixed (they are the digest realm)."""

    ip_allow_list = LineListField(
        label="IP allow list",
        required=False,
        help_text="Networks in CIDR form, one per line (192.0.2.0/24). Empty allows any address.",
    )

    class Meta:
        model = SIPAccount
        fields = EDITABLE_FIELDS

    def __init__(self, *args: Any, customer: Customer, **kwargs: Any) -> None:
        super().__init__(*args, customer=customer, **kwargs)
        dialplans = Dialplan.objects.for_customer(customer)
        self.fields["incoming_dialplan"].queryset = dialplans
        self.fields["outgoing_dialplan"].queryset = dialplans


class AccountCreateForm(AccountEditForm):
    """A new account; ``clean`` gives it a generated password, kept in ``generated_password``
    only until the page showing it once is rendered."""

    class Meta(AccountEditForm.Meta):
        fields = ["username", "domain", *EDITABLE_FIELDS]

    def __init__(self, *args: Any, customer: Customer, **kwargs: Any) -> None:
        super().__init__(*args, customer=customer, **kwargs)
        self.fields["domain"].queryset = SIPDomain.objects.usable_by(customer)
        self.fields["domain"].empty_label = None
        self.fields["username"].widget.attrs.update(
            {"autocapitalize": "none", "spellcheck": "false"}
        )
        self.generated_password = ""

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        username, domain = cleaned.get("username"), cleaned.get("domain")
        if username and domain:
            self.instance.username, self.instance.domain = username, domain
            self.generated_password = SIPAccount.generate_password()
            try:
                self.instance.set_password(self.generated_password)
            except ValidationError as exc:
                self.add_error(None, exc)
        return cleaned
