"""Creating, checking and revoking API tokens (used by the API, the admin, the command, the portal).

``create_token`` returns the clear token exactly once; afterwards only its hash exists.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from sipplatform.api.models import ApiToken
from sipplatform.customers.models import User

TOKEN_TAG = "sipk_"
PREFIX_LENGTH = 8
PREFIX_ALPHABET = string.ascii_lowercase + string.digits
# Writing last_used_at on every request would turn each read into a write; a minute is precise
# enough to tell a live script from a forgotten token.
LAST_USED_PRECISION = timedelta(minutes=1)


def hash_token(clear: str) -> str:
    return hashlib.sha256(clear.encode()).hexdigest()


def split_token(clear: str) -> tuple[str, str] | None:
    """``(prefix, secret)`` of a well-formed token, else None."""
    if not clear.startswith(TOKEN_TAG):
        return None
    prefix, separator, secret = clear[len(TOKEN_TAG) :].partition("_")
    if len(prefix) != PREFIX_LENGTH or set(prefix) - set(PREFIX_ALPHABET):
        return None
    if not separator or not secret:
        return None
    return prefix, secret


def _random_prefix() -> str:
    return "".join(secrets.choice(PREFIX_ALPHABET) for _ in range(PREFIX_LENGTH))


def create_token(user: User, name: str) -> tuple[ApiToken, str]:
    """A new token for ``user``; returns it and the clear token, which is never stored.

    Raises ``ValidationError`` (nothing saved) for a blank or too long name or an inactive user.
    """
    if not user.is_active:
        raise ValidationError({"user": "An inactive user cannot have API tokens."})
    for _attempt in range(5):
        prefix = _random_prefix()
        clear = f"{TOKEN_TAG}{prefix}_{secrets.token_urlsafe(32)}"
        token = ApiToken(user=user, name=name.strip(), prefix=prefix, secret_hash=hash_token(clear))
        token.full_clean(exclude=["prefix"])
        try:
            with transaction.atomic():
                token.save()
        except IntegrityError:
            continue  # the random prefix collided with another token's: draw again
        return token, clear
    raise RuntimeError("could not draw an unused token prefix")


def revoke_token(token: ApiToken) -> None:
    """Stop ``token`` from authenticating from now on (revoking twice keeps the first time)."""
    now = timezone.now()
    ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=now)
    token.refresh_from_db(fields=["revoked_at"])


def authenticate_token(clear: str) -> ApiToken | None:
    """The active token whose clear text is ``clear`` (recording its use), else None."""
    parts = split_token(clear)
    if parts is None:
        return None
    token = ApiToken.objects.active().select_related("user").filter(prefix=parts[0]).first()
    if token is None or not hmac.compare_digest(token.secret_hash, hash_token(clear)):
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_PRECISION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token
