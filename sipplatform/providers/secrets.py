"""Encryption at rest of provider passwords (Fernet, keys from ``PROVIDER_SECRETS_KEYS``).

The first key encrypts; every key decrypts, so an operator rotates by putting a new key first.
Settings are read when called, never at import.
"""

from __future__ import annotations

from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


class ProviderSecretError(Exception):
    """A stored provider password cannot be decrypted with the configured keys."""


@lru_cache(maxsize=4)
def _cipher(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(key) for key in keys])


def encrypt_secret(plaintext: str) -> str:
    """A Fernet token (URL-safe text) for ``plaintext``."""
    return _cipher(tuple(settings.PROVIDER_SECRETS_KEYS)).encrypt(plaintext.encode()).decode()


def decrypt_secret(token: str) -> str:
    """The clear text of a token made by ``encrypt_secret`` with any configured key."""
    try:
        return _cipher(tuple(settings.PROVIDER_SECRETS_KEYS)).decrypt(token.encode()).decode()
    except InvalidToken:
        raise ProviderSecretError(
            "the provider password cannot be decrypted: PROVIDER_SECRETS_KEY (or SECRET_KEY, "
            "which it is derived from) changed since it was stored"
        ) from None
