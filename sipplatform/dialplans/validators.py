"""Validators for dialplan names and destination-policy lists."""

import re

from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator

from sipcore.dialplan import validate_source

validate_dialplan_name = RegexValidator(
    r"\A[A-Za-z0-9_.-]{1,64}\Z",
    "A dialplan name is 1 to 64 letters, digits, '_', '.' and '-'.",
    code="invalid_name",
)

_PREFIX = re.compile(r"\A[0-9]{1,15}\Z")
_COUNTRY_CODE = re.compile(r"\A[1-9][0-9]{0,2}\Z")


def validate_dialplan_source(source: str) -> None:
    """Refuse a script that does not parse, naming the line and column of the error.

    The check is the SIP stack's own (``sipcore.dialplan.validate_source``), so what saves here
    is what the sandbox can run.
    """
    problem = validate_source(source)
    if problem is not None:
        raise ValidationError(
            "Syntax error at line %(line)s, column %(column)s: %(message)s",
            code="syntax_error",
            params={"line": problem.line, "column": problem.column, "message": problem.message},
        )


def _validate_digit_list(value: object, pattern: re.Pattern, what: str) -> None:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValidationError(f"Expected a list of {what}.", code="invalid_list")
    bad = [item for item in value if not pattern.match(item)]
    if bad:
        raise ValidationError(
            "Not %(what)s: %(bad)s",
            code="invalid_list",
            params={"what": what, "bad": ", ".join(bad)},
        )


def validate_prefix_list(value: object) -> None:
    """Number prefixes as digits only, without ``+`` or ``00`` (``44909``, ``0909``)."""
    _validate_digit_list(value, _PREFIX, "number prefixes of 1 to 15 digits")


def validate_country_code_list(value: object) -> None:
    """ITU country calling codes without ``+`` (``1``, ``44``, ``358``)."""
    _validate_digit_list(value, _COUNTRY_CODE, "country codes of 1 to 3 digits")
