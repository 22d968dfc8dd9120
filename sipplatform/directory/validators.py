"""Validators for SIP directory values: account user names, domain names, CIDR lists."""

import ipaddress

from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator

from sipplatform.envconfig import is_host_or_address

validate_sip_username = RegexValidator(
    r"\A[a-z0-9_.-]{3,32}\Z",
    "A SIP username is 3 to 32 characters of lowercase letters, digits, '_', '.' and '-'.",
    code="invalid_username",
)


def validate_domain_name(value: str) -> None:
    """A host name or IP address, as phones put it after the ``@`` (``clean()`` lowercases)."""
    if not is_host_or_address(value.lower()):
        raise ValidationError(
            "%(value)s is not a host name or IP address.",
            code="invalid_domain",
            params={"value": value},
        )


def validate_domain_list(value: list) -> None:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValidationError("Aliases are a list of host names.", code="invalid_aliases")
    for item in value:
        validate_domain_name(item)


def validate_cidr_list(value: list) -> None:
    """A list of networks in CIDR form (``192.0.2.0/24``, ``2001:db8::/32``, ``198.51.100.7``)."""
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValidationError("The IP allow list is a list of networks.", code="invalid_cidr")
    for item in value:
        try:
            ipaddress.ip_network(item, strict=True)
        except ValueError as exc:
            raise ValidationError(
                "%(value)s is not a network in CIDR form: %(error)s",
                code="invalid_cidr",
                params={"value": item, "error": exc},
            ) from None


def validate_sip_password(value: str) -> None:
    """8 to 128 printable characters: what a phone's configuration screen can hold."""
    if not 8 <= len(value) <= 128:
        raise ValidationError(
            "A SIP password is 8 to 128 characters long.", code="invalid_password"
        )
    if not value.isprintable():
        raise ValidationError(
            "A SIP password may not contain control characters.", code="invalid_password"
        )
