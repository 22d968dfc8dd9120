"""Validators for provider settings: names usable in dial strings, SIP URIs, custom headers."""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator

from sipplatform.envconfig import is_host_or_address

# Headers the platform itself owns on every request it sends (full and compact forms).
PROTECTED_HEADERS = frozenset(
    {
        "via",
        "v",
        "from",
        "f",
        "contact",
        "m",
        "cseq",
        "call-id",
        "i",
        "max-forwards",
        "content-length",
        "l",
    }
)
_TOKEN = re.compile(r"\A[A-Za-z0-9!%'*+\-._`~]+\Z")
_SIP_URI = re.compile(r"\Asips?:[^\s<>\"]+\Z", re.IGNORECASE)

validate_sip_user = RegexValidator(
    r"\A[A-Za-z0-9\-_.!~*'()%&=+$,;?/]+\Z",
    "A SIP user name is letters, digits and - _ . ! ~ * ' ( ) %% & = + $ , ; ? / only: it "
    "is written into the From and To URIs of what the platform sends to the provider.",
    code="invalid_user",
)


def validate_digest_username(value: str) -> None:
    """A digest user name: printable, without the quote or backslash that would end the
    quoted ``username="..."`` of an Authorization header early (header injection)."""
    if not value.isprintable() or '"' in value or "\\" in value:
        raise ValidationError(
            "A digest user name may not hold control characters, quotes or backslashes.",
            code="invalid_digest_username",
        )


validate_provider_name = RegexValidator(
    r"\A(?!local\Z)[A-Za-z0-9_.-]{1,64}\Z",
    "A provider name is 1 to 64 letters, digits, '_', '.' and '-' (and not 'local'): "
    "dial strings name it after the @.",
    code="invalid_name",
)


def validate_sip_uri(value: str) -> None:
    """A ``sip:`` or ``sips:`` URI without spaces (``sip:trunk.example.net:5060``)."""
    if not _SIP_URI.match(value):
        raise ValidationError(
            "%(value)s is not a sip: or sips: URI.", code="invalid_uri", params={"value": value}
        )


def validate_host(value: str) -> None:
    """A host name or IP address (IPv6 with or without brackets), any case."""
    if not is_host_or_address(value.lower().removeprefix("[").removesuffix("]")):
        raise ValidationError(
            "%(value)s is not a host name or address.", code="invalid_host", params={"value": value}
        )


def parse_custom_headers(text: str) -> list[tuple[str, str]]:
    """``Name: value`` lines as pairs; blank lines skipped.

    Raises ``ValidationError`` naming the line for malformed lines and protected headers.
    """
    headers = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        name, colon, value = line.partition(":")
        name, value = name.strip(), value.strip()
        if not colon or not _TOKEN.match(name) or not value:
            raise ValidationError(
                "Line %(line)s is not a 'Name: value' header.",
                code="invalid_header",
                params={"line": number},
            )
        if name.lower() in PROTECTED_HEADERS:
            raise ValidationError(
                "Line %(line)s: the platform sets %(name)s itself.",
                code="protected_header",
                params={"line": number, "name": name},
            )
        if not value.isprintable():
            raise ValidationError(
                "Line %(line)s: the value contains control characters.",
                code="invalid_header",
                params={"line": number},
            )
        headers.append((name, value))
    return headers


def validate_custom_headers(text: str) -> None:
    parse_custom_headers(text)
