"""The dialplan editor's form and the dry-run form."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from sipcore.dialplan import DialplanSyntaxError, DialResultName, Direction, validate_source
from sipplatform.dialplans.models import Dialplan
from sipplatform.directory.models import SIPAccount
from webui.forms.base import OwnedModelForm
from webui.forms.fields import LineListField

MAX_SCRIPTED_OUTCOMES = 20


class DialplanForm(OwnedModelForm):
    """Name, description and script; a parse error is kept as ``syntax_error`` so the editor
    can mark its line and column."""

    class Meta:
        model = Dialplan
        fields = ["name", "description", "script"]
        widgets = {
            "script": forms.Textarea(
                attrs={"rows": 18, "spellcheck": "false", "data-code-editor": "python"}
            )
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.syntax_error: DialplanSyntaxError | None = None
        self.fields["script"].strip = False  # indentation is syntax; keep the text as typed
        self.fields["script"].help_text = (
            "Starlark (Python syntax). Saving checks that it parses; a script with an error is "
            "not saved."
        )

    def clean_script(self) -> str:
        # Browsers post a textarea with CRLF line ends (HTML's form encoding): store plain LF.
        script = self.cleaned_data["script"].replace("\r\n", "\n")
        self.syntax_error = validate_source(script)
        if self.syntax_error is not None:
            textarea = self.fields["script"].widget.attrs
            textarea["data-error-line"] = self.syntax_error.line
            textarea["data-error-column"] = self.syntax_error.column
            textarea["data-error-message"] = self.syntax_error.message
            raise ValidationError(
                "Syntax error at line %(line)s, column %(column)s: %(message)s",
                code="syntax_error",
                params={
                    "line": self.syntax_error.line,
                    "column": self.syntax_error.column,
                    "message": self.syntax_error.message,
                },
            )
        return script

    def _post_clean(self) -> None:
        # The model's own validator would parse the script again only to repeat the error.
        if self.syntax_error is None:
            super()._post_clean()


class DryRunForm(forms.Form):
    """A call to try the saved script on, and what each ``sys.Dial`` should get."""

    direction = forms.ChoiceField(
        choices=[
            (Direction.OUT.value, "Outgoing (placed by an account)"),
            (Direction.IN.value, "Incoming (to an account)"),
        ],
        initial=Direction.OUT.value,
    )
    account = forms.CharField(
        label="Account (sys.Username)",
        max_length=32,
        initial="alice",
        help_text="The SIP account the call belongs to.",
    )
    from_user = forms.CharField(label="From", max_length=64, initial="alice")
    to_user = forms.CharField(
        label="To (the called number or user, ${dst})", max_length=64, initial="1000"
    )
    outcomes = LineListField(
        label="Dial outcomes, in order",
        required=False,
        widget=forms.TextInput(attrs={"spellcheck": "false", "autocapitalize": "none"}),
        help_text="What each successive sys.Dial gets, e.g. 'NoAnswer, Answered'. One of: "
        + ", ".join(result.value for result in DialResultName)
        + ". Dials past the list get NoAnswer.",
    )

    @classmethod
    def for_dialplan(cls, dialplan: Dialplan) -> DryRunForm:
        """An empty form whose call comes from one of the dialplan's customer's accounts."""
        account = SIPAccount.objects.for_customer(dialplan.customer_id).first()
        if account is None:
            return cls()
        return cls(initial={"account": account.username, "from_user": account.username})

    def clean_outcomes(self) -> list[str]:
        known = {result.value.lower(): result.value for result in DialResultName}
        outcomes = []
        for name in self.cleaned_data["outcomes"]:
            if name.lower() not in known:
                raise ValidationError(
                    "%(name)s is not a Dial outcome (use one of %(known)s).",
                    code="unknown_outcome",
                    params={"name": name, "known": ", ".join(known.values())},
                )
            outcomes.append(known[name.lower()])
        if len(outcomes) > MAX_SCRIPTED_OUTCOMES:
            raise ValidationError(f"At most {MAX_SCRIPTED_OUTCOMES} outcomes.")
        return outcomes
